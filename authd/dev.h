/*
 * Dev mode (`authd --dev`, `make dev`): a self-contained walkthrough with
 * its own CA, store, two workloads, their sample apps and a sample policy.
 */
#ifndef AUTHD_AUTHD_DEV_H
#define AUTHD_AUTHD_DEV_H

#include "common/util.h"

struct config;
struct daemon;

/* Prepare a dev state dir (CA, store, workloads, policy); fills cfg. */
int dev_prepare(const char *state_dir, struct config *cfg) AD_MUST_CHECK;
/* Start the built-in sample apps and print the commands to try. */
int dev_start(struct daemon *d, const char *state_dir) AD_MUST_CHECK;
#endif
