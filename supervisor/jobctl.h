/*
 * jobctl.h - the supervisor's own job control.
 */
#ifndef RP_JOBCTL_H
#define RP_JOBCTL_H

/* Stop here, as Ctrl-Z would, until continued.  By SIGTSTP's own
 * default action, not SIGSTOP: the kernel then refuses to stop a
 * process group nobody could continue (an orphaned one), and this
 * returns at once.  SIGTSTP stays blocked around it (it is read from a
 * signalfd) and its disposition is put back. */
void rp_stop_self(void);

#endif /* RP_JOBCTL_H */
