/*
 * floor-milter: the fastest a milter can be from the MTA's side (issue 16). A no-op milter on Debian's
 * libmilter that negotiates what Milter negotiates and makes the same header edits, with no crypto:
 *   - stages CONNECT, HELO, MAIL, header, EOH and body, each without a reply (SMFIP_NR_*); no RCPT, DATA or
 *     unknown (SMFIP_NO*); leading spaces of header values kept (SMFIP_HDR_LEADSPC); actions add and change
 *     headers and quarantine; the same macros asked for ({j} {daemon_name} / {i} {auth_type} {auth_authen} / {i});
 *   - at end of message, one Authentication-Results field inserted at the top, and for a client at 127.0.0.1
 *     (Milter's InternalHosts in the bench) a DKIM-Signature field of the size Milter writes for RSA-2048,
 *     relaxed/relaxed, inserted above it. Its b= and bh= are filler: nothing verifies it.
 * Built and started by bench/postfix.sh (cc -O2 ... -lmilter); usage: floor-milter SOCKET (unix:/path or
 * inet:PORT@127.0.0.1). Runs until SIGTERM.
 */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

/* sizes as Milter writes them for the bench's messages (a 2048-bit key: 344 base64 characters in b=) */
static const char ar_value[] = " bench.lab.example; dkim=none (no signature); arc=none";
static char sig_value[600];

struct conn { int internal; };

static sfsistat fl_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
                             unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    (void)f2; (void)f3;
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST);
    unsigned long want = SMFIP_NORCPT | SMFIP_NODATA | SMFIP_NOUNKNOWN | SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL
                         | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC | SMFIP_SKIP;
    *pf1 = f1 & want;
    *pf2 = 0;
    *pf3 = 0;
    if (f0 & SMFIF_SETSYMLIST) {
        smfi_setsymlist(ctx, SMFIM_CONNECT, "j {daemon_name}");
        smfi_setsymlist(ctx, SMFIM_ENVFROM, "{i} {auth_type} {auth_authen}");
        smfi_setsymlist(ctx, SMFIM_EOM, "{i}");
    }
    return SMFIS_CONTINUE;
}

static sfsistat fl_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
    (void)host;
    struct conn *c = smfi_getpriv(ctx);
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL) return SMFIS_TEMPFAIL;
        smfi_setpriv(ctx, c);
    }
    c->internal = addr != NULL && addr->sa_family == AF_INET
                  && ((struct sockaddr_in *)addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    return SMFIS_NOREPLY;
}

static sfsistat fl_noreply_helo(SMFICTX *ctx, char *helo) { (void)ctx; (void)helo; return SMFIS_NOREPLY; }
static sfsistat fl_noreply_mail(SMFICTX *ctx, char **argv) { (void)ctx; (void)argv; return SMFIS_NOREPLY; }
static sfsistat fl_noreply_header(SMFICTX *ctx, char *name, char *value) { (void)ctx; (void)name; (void)value; return SMFIS_NOREPLY; }
static sfsistat fl_noreply_eoh(SMFICTX *ctx) { (void)ctx; return SMFIS_NOREPLY; }
static sfsistat fl_noreply_body(SMFICTX *ctx, unsigned char *chunk, size_t len) { (void)ctx; (void)chunk; (void)len; return SMFIS_NOREPLY; }

static sfsistat fl_eom(SMFICTX *ctx)
{
    struct conn *c = smfi_getpriv(ctx);
    if (smfi_insheader(ctx, 0, "Authentication-Results", (char *)ar_value) != MI_SUCCESS) return SMFIS_TEMPFAIL;
    if (c != NULL && c->internal && smfi_insheader(ctx, 0, "DKIM-Signature", sig_value) != MI_SUCCESS) return SMFIS_TEMPFAIL;
    return SMFIS_ACCEPT;
}

static sfsistat fl_close(SMFICTX *ctx)
{
    free(smfi_getpriv(ctx));
    smfi_setpriv(ctx, NULL);
    return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: floor-milter unix:/path | inet:PORT@127.0.0.1\n");
        return 2;
    }
    /* " v=1; a=rsa-sha256; c=relaxed/relaxed; d=lab.example; s=bench; t=...; bh=<44>; h=...; b=<344, folded>" */
    char b[345];
    memset(b, 'A', 344);
    b[344] = '\0';
    snprintf(sig_value, sizeof sig_value,
             " v=1; a=rsa-sha256; c=relaxed/relaxed; d=lab.example; s=bench;\r\n\tt=1764000000;"
             " bh=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=;\r\n\th=from:to:subject:date:message-id:mime-version;\r\n"
             "\tb=%.*s\r\n\t %.*s\r\n\t %.*s\r\n\t %.*s", 72, b, 72, b, 72, b, 128, b);
    struct smfiDesc desc = {
        .xxfi_name = "floor-milter",
        .xxfi_version = SMFI_VERSION,
        .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
        .xxfi_connect = fl_connect,
        .xxfi_helo = fl_noreply_helo,
        .xxfi_envfrom = fl_noreply_mail,
        .xxfi_header = fl_noreply_header,
        .xxfi_eoh = fl_noreply_eoh,
        .xxfi_body = fl_noreply_body,
        .xxfi_eom = fl_eom,
        .xxfi_close = fl_close,
        .xxfi_negotiate = fl_negotiate,
    };
    if (smfi_setconn(argv[1]) == MI_FAILURE || smfi_register(desc) == MI_FAILURE) {
        fprintf(stderr, "floor-milter: cannot set up %s\n", argv[1]);
        return 1;
    }
    smfi_setbacklog(4096);
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
