// The create job of a server, remembered from POST /api/servers (202 {id, job})
// for the overview's step list until the first detail arrives; after a
// reload the detail's `job` (the server's latest job) is used.
const jobs = new Map<number, number>();

export function rememberJob(serverId: number, jobId: number) {
  jobs.set(serverId, jobId);
}

export function jobOf(serverId: number): number | undefined {
  return jobs.get(serverId);
}
