import type { ServerOptions } from 'node:http';

/**
 * Options of the function's HTTP server: a request whose headers and body have not all arrived within 5 s is
 * answered 408 and its connection closed. GitHub gives a delivery 10 s, and the function's own budget is 8 s
 * (`DELIVERY_BUDGET_MS`), so a sender that stalls mid-body (slowloris) holds a connection no longer than a real
 * delivery could use, instead of for ever. Node checks these timeouts every `connectionsCheckingInterval`
 * (30 s by default, which alone would let a stalled body live 35 s): every 500 ms here.
 * https://nodejs.org/api/http.html#serverrequesttimeout
 */
export const SERVER_OPTIONS: ServerOptions = {
  requestTimeout: 5000,
  headersTimeout: 5000,
  connectionsCheckingInterval: 500,
};
