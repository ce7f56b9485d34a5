#pragma once

// Runs body(context); if anything under it calls exit() (libnftnl does, on a message whose
// attributes do not have the sizes nf_tables gives them: "nf_tables kernel ABI is broken,
// contact your vendor"), comes back here instead and returns -1. Fuzzing only: the frames
// jumped over leak what they held, so run with -detect_leaks=0.
int nc_exit_guard(void (*body)(void *context), void *context);

// How many bodies ended in exit() since the start.
unsigned long nc_exit_guard_count(void);
