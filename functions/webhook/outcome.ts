/** What became of one delivery, answered to GitHub and logged. */
export type Outcome =
  | { readonly outcome: 'created'; readonly job: string; readonly runnerId: number }
  | { readonly outcome: 'exists'; readonly job: string; readonly reason: string }
  | { readonly outcome: 'pending'; readonly job: string; readonly reason: string }
  | { readonly outcome: 'waiting'; readonly job: string; readonly reason: string }
  | { readonly outcome: 'cancelled'; readonly job: string; readonly reason: string }
  | { readonly outcome: 'replaced'; readonly job: string; readonly reason: string }
  | { readonly outcome: 'ignored'; readonly reason: string };
