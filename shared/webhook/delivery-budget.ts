/**
 * Time for handling one delivery. GitHub gives a delivery 10 s and marks it failed after that
 * (https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks#respond-within-10-seconds);
 * the answer must travel back within them.
 */
export const DELIVERY_BUDGET_MS = 8000;
