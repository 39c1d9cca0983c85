#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/TARGET/ from the repository's test data (see fuzz/corpus/PROVENANCE.md).
Run from the repository root: python3 fuzz/corpus/make-seeds.py. The output is committed; rerun it only when
the test data changes (it replaces every seed file it writes, named by a short hash of its content)."""
import glob, hashlib, os, re, struct, sys
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests/Milter.MailAuth.Tests/TestData")
OUT = os.path.join(ROOT, "fuzz/corpus")
MAX_SEEDS = 120   # per target: keeps the repository small and AFL's dry run short
MAX_SIZE = 4096   # bytes per seed


def write(target, items):
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    for old in glob.glob(os.path.join(folder, "seed-*")):
        os.remove(old)
    seen = set()
    for item in items:
        data = item.encode("utf-8", "surrogateescape") if isinstance(item, str) else item
        if not data or len(data) > MAX_SIZE or data in seen:
            continue
        seen.add(data)
        if len(seen) > MAX_SEEDS:
            break
        with open(os.path.join(folder, "seed-" + hashlib.sha1(data).hexdigest()[:12]), "wb") as f:
            f.write(data)
    print(f"{target}: {min(len(seen), MAX_SEEDS)} seeds")


def eml_headers(path):
    """(name, raw value bytes) of each header field of a message file, folds kept."""
    raw = open(path, "rb").read().replace(b"\r\n", b"\n")
    head = raw.split(b"\n\n", 1)[0]
    fields = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += b"\r\n" + line
        elif b":" in line:
            name, value = line.split(b":", 1)
            fields.append([name.decode("latin-1"), value])
    return fields


emls = sorted(glob.glob(os.path.join(DATA, "dkim/**/*.eml"), recursive=True))

# dkim: DKIM-Signature values of the sample messages, key records of the zone files, hand-made edge cases.
dkim = [v for p in emls for n, v in eml_headers(p) if n.lower() == "dkim-signature"]
for zone in glob.glob(os.path.join(DATA, "dkim/**/*.zone"), recursive=True):
    text = open(zone).read()
    dkim += re.findall(r'TXT "(v=DKIM1[^"]*)"', text)
    for block in re.findall(r'TXT\s*\(([^)]*)\)', text):
        dkim.append("".join(re.findall(r'"([^"]*)"', block)))
dkim += ["v=DKIM1; p=", "v=DKIM1; k=ed25519; h=sha256; t=y:s; s=email; n=note; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
         "a=rsa-sha256; d=example.com; s=sel; c=relaxed/simple; q=dns/txt; l=10; t=1; x=2; h=from : to; bh=; b=",
         "v=1; a=ed25519-sha256; d=xn--bcher-kva.example; i=@b\xc3\xbccher.example; s=s; h=From; bh=AAAA; b=AA AA"]
write("dkim", dkim)

# spf: SPF records and explanation strings of the pyspf RFC 7208 suite's zone data, plus macro-strings.
spf = []
for doc in yaml.safe_load_all(open(os.path.join(DATA, "spf/rfc7208-tests.yml"))):
    for records in (doc.get("zonedata") or {}).values():
        for r in records:
            if isinstance(r, dict) and ("SPF" in r or "TXT" in r):
                v = r.get("SPF", r.get("TXT"))
                spf.append("".join(v) if isinstance(v, list) else str(v))
spf = sorted(set(spf), key=lambda s: ("%" not in s, len(s)))
spf += ["%{ir}.%{v}._spf.%{d2}", "%{L-}%{o}%{S+}%{i.-+,/_=}%%%_%-", "exp=%{c} %{r} %{t} %{p}", "ip6:2001:db8::/32", "a:%{d}/24//64"]
write("spf", spf)

# dmarc: records of the OpenDMARC vectors.
dmarc_doc = yaml.safe_load(open(os.path.join(DATA, "dmarc/opendmarc-vectors.yaml")))
dmarc = [t["record"] for t in dmarc_doc["record_parse"] if "record" in t]
dmarc += ["v=DMARC1; p=reject; sp=none; np=quarantine; psd=y; t=y; adkim=s; aspf=r; pct=50; fo=0:1:d:s; rf=afrf; ri=3600; "
          "rua=mailto:a@example.com!10m,mailto:b@example.net; ruf=mailto:f@example.com"]
write("dmarc", dmarc)

# authres: every field value of the A-R examples (with the field name removed).
def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            if k in ("header", "value", "input", "should_parse", "should_reject", "mail_authenticationresults_as_string"):
                yield from strings(v)
            elif isinstance(v, (dict, list)):
                yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
authres_doc = yaml.safe_load(open(os.path.join(DATA, "authres/authres-examples.yaml")))
authres = [re.sub(r"^Authentication-Results:\s*", "", s) for k, v in authres_doc.items() if k not in ("sources", "schema") for s in strings(v)]
authres = [s for s in authres if ";" in s or "=" in s]
write("authres", authres)

# from: From values of the sample messages and of the DMARC vectors, plus hand-made shapes.
from_values = [v for p in emls for n, v in eml_headers(p) if n.lower() == "from"]
for t in dmarc_doc.get("from_domain", []):
    for key in ("from", "header", "value"):
        if isinstance(t, dict) and key in t:
            from_values.append(str(t[key]).encode())
from_values += [b" Joe Q. Public <john.q.public@example.com>", b" \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
                b" Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", b" A Group:Ed Jones <c@a.test>,joe@where.test;",
                b" =?utf-8?q?J=C3=B6rg?= <joerg@b\xc3\xbccher.example>", b" a@example.com, b@example.net", b" <@route:a@[192.0.2.1]>",
                b" x@xn--bcher-kva.example.", b"From: a@example.com\nFrom: b@example.com\nSubject: x"]
write("from", from_values)

# frame and session: MTA-to-filter streams as Postfix sends them (SMFIC_* frames, Sendmail libmilter mfdef.h).
def frame(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd.encode() + data
def cstr(*parts):
    return b"".join(p.encode() + b"\0" for p in parts)
optneg = frame("O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
connect = frame("D", b"C" + cstr("j", "mx.example.org", "{daemon_name}", "smtpd")) + frame("C", cstr("client.example.com") + b"4" + struct.pack(">H", 4321) + cstr("192.0.2.1"))
helo = frame("H", cstr("client.example.com"))
mail = frame("D", b"M" + cstr("i", "4Q1", "{auth_type}", "")) + frame("M", cstr("<a@example.com>", "SIZE=100", "BODY=8BITMIME"))
rcpt = frame("R", cstr("<b@example.net>"))
headers = frame("T") + frame("L", cstr("From", " Joe <a@example.com>")) + frame("L", cstr("Authentication-Results", " mx.example.org; spf=pass")) + frame("N")
body = frame("B", b"Hello\r\nworld\r\n") + frame("E")
session = [
    optneg + connect + helo + mail + rcpt + headers + body + frame("Q"),
    optneg + connect + helo + mail + rcpt + headers + body + mail + rcpt + frame("A") + frame("K") + connect + frame("Q"),
    optneg + connect + frame("U", cstr("XFOO bar")) + helo + mail + rcpt + frame("R", cstr("<c@example.net>", "NOTIFY=NEVER")) + headers + frame("B", b"x" * 300) + frame("E"),
    frame("O", struct.pack(">III", 2, 0x3F, 0x7F) + struct.pack(">I", 1) + cstr("{rcpt_addr}")) + frame("C", cstr("[192.0.2.1]") + b"6" + struct.pack(">H", 25) + cstr("IPv6:2001:db8::1")),
    optneg + frame("C", cstr("unknown") + b"U") + frame("C", cstr("local") + b"L" + struct.pack(">H", 0) + cstr("/run/sock")),
    optneg + frame("M", cstr("<>")) + frame("L", cstr("X", "y")) + frame("E"),
    struct.pack(">I", 0) + b"O",
]
write("session", session)
write("frame", session + [optneg, frame("O", struct.pack(">III", 6, 1, 2) + struct.pack(">I", 0) + cstr("j {if_addr}") + struct.pack(">I", 4) + cstr("i")),
                          struct.pack(">I", 0x10001) + b"B", frame("D", b"R" + cstr("{rcpt_mailer}", "local", "trailing"))[:-1]])
