/*
 * The release, in one place: `authd --version` and `authctl --version`
 * print it.
 */
#ifndef AUTHD_COMMON_VERSION_H
#define AUTHD_COMMON_VERSION_H

#define AUTHD_VERSION "0.4.0"

#endif
