// The create job of a server, remembered from POST /api/servers (202 {id, job})
// for the overview's step list. The server detail does not name its job, so
// after a reload only install_step/progress from the detail are shown.
const jobs = new Map<number, number>();

export function rememberJob(serverId: number, jobId: number) {
  jobs.set(serverId, jobId);
}

export function jobOf(serverId: number): number | undefined {
  return jobs.get(serverId);
}
