/*
 * sg-null-milter: a libmilter milter that accepts everything.
 *
 * Benchmark baseline for bench/run.sh: it measures what the milter protocol itself costs
 * Postfix (and a libmilter process), so that senderguard-milter can be compared with it.
 * It registers only connect, envfrom, envrcpt, eom and close; libmilter then tells the MTA
 * not to send the other steps. No negotiate callback, no actions requested.
 *
 * Usage: sg-null-milter -p unix:/path/to.sock   (also inet:port@127.0.0.1)
 * Runs in the foreground until SIGTERM/SIGHUP (stop) or SIGINT (abort), handled by smfi_main.
 * A unix socket is made mode 0666 so Postfix's smtpd (user postfix) can connect to it.
 *
 * Build: cc -O2 -o sg-null-milter bench/null_milter.c -lmilter -lpthread
 */
#define _POSIX_C_SOURCE 200809L /* getopt, chmod under -std=c11 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static sfsistat null_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
    (void)ctx;
    (void)hostname;
    (void)hostaddr;
    return SMFIS_CONTINUE;
}

static sfsistat null_envfrom(SMFICTX *ctx, char **argv)
{
    (void)ctx;
    (void)argv;
    return SMFIS_CONTINUE;
}

static sfsistat null_envrcpt(SMFICTX *ctx, char **argv)
{
    (void)ctx;
    (void)argv;
    return SMFIS_CONTINUE;
}

static sfsistat null_eom(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_ACCEPT;
}

static sfsistat null_close(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out, "usage: %s -p unix:/path/to.sock | -p inet:PORT@127.0.0.1\n", prog);
}

/* The filesystem path of a unix socket spec ("unix:/p", "local:/p" or "/p"), else NULL. */
static const char *unix_socket_path(const char *conn)
{
    if (strncmp(conn, "unix:", 5) == 0)
        return conn + 5;
    if (strncmp(conn, "local:", 6) == 0)
        return conn + 6;
    if (conn[0] == '/')
        return conn;
    return NULL;
}

int main(int argc, char **argv)
{
    char *conn = NULL;
    const char *path;
    int c;

    while ((c = getopt(argc, argv, "p:h")) != -1) {
        switch (c) {
        case 'p':
            conn = optarg;
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (conn == NULL || optind != argc) {
        usage(stderr, argv[0]);
        return 2;
    }

    struct smfiDesc desc = {
        .xxfi_name = "sg-null-milter",
        .xxfi_version = SMFI_VERSION,
        .xxfi_flags = 0,
        .xxfi_connect = null_connect,
        .xxfi_envfrom = null_envfrom,
        .xxfi_envrcpt = null_envrcpt,
        .xxfi_eom = null_eom,
        .xxfi_close = null_close,
    };

    if (smfi_setconn(conn) != MI_SUCCESS) {
        fprintf(stderr, "sg-null-milter: smfi_setconn(%s) failed\n", conn);
        return 1;
    }
    if (smfi_register(desc) != MI_SUCCESS) {
        fprintf(stderr, "sg-null-milter: smfi_register failed\n");
        return 1;
    }
    /* true: remove a stale unix socket left by an earlier run. */
    if (smfi_opensocket(true) != MI_SUCCESS) {
        fprintf(stderr, "sg-null-milter: cannot open socket %s\n", conn);
        return 1;
    }
    path = unix_socket_path(conn);
    if (path != NULL && chmod(path, 0666) != 0) {
        fprintf(stderr, "sg-null-milter: chmod %s: %s\n", path, strerror(errno));
        return 1;
    }
    c = smfi_main();
    if (path != NULL)
        (void)unlink(path);
    return c == MI_SUCCESS ? 0 : 1;
}
