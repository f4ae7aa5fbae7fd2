/* engine/sched_report.h - what the scheduler tells the user: the plan of a
 * dry run, live progress, a failed job's log tail, the final summary (text or
 * JSON) and the run record. */
#ifndef IK_ENGINE_SCHED_REPORT_H
#define IK_ENGINE_SCHED_REPORT_H

struct ik_buf;
struct ik_job;
struct ik_sched;

/* Prints the resolved plan (--dry-run); returns the exit status (0). */
int ik__sched_print_plan(struct ik_sched *s);
/* Redraws live progress, or prints a plain progress line every 10 s per node. */
void ik__sched_show_progress(struct ik_sched *s);
/* Stores a failed job's log in the CAS (the run record names it, for `ikada
 * status` and `cache show`), then shows its last lines, less the error line
 * that was just shown as the failure (the log may be shortened). */
void ik__sched_show_log_tail(struct ik_sched *s, struct ik_job *j, struct ik_buf *log);
/* Prints the summary, writes the run record. */
void ik__sched_report(struct ik_sched *s, int outcome);

#endif
