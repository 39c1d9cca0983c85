namespace Milter.TestKit.Peers;

/// <summary>The python programs <see cref="DkimPy"/> runs: JSON on stdin, one JSON line on stdout.</summary>
internal static class DkimPyScripts
{
    /// <summary>Input: [{"msg": base64, "sigs": [signature...]}]. Each job's signatures are added in order,
    /// each new one on top. Output: [{"msg": base64, "error": ""}]. t= is set by replacing time.time for
    /// the one sign call; extra tags are put before b= by wrapping DKIM.gen_header.</summary>
    public const string Sign = """
        import sys, json, base64, time
        import dkim
        extra = []
        original_gen_header = dkim.DKIM.gen_header
        def gen_header(self, fields, *args, **kwargs):
            if extra:
                fields = list(fields[:-1]) + extra + list(fields[-1:])
            return original_gen_header(self, fields, *args, **kwargs)
        dkim.DKIM.gen_header = gen_header
        real_time = time.time
        out = []
        for job in json.load(sys.stdin):
            try:
                msg = base64.b64decode(job['msg'])
                for s in job['sigs']:
                    extra[:] = [(k.encode(), v.encode()) for k, v in s['extra']]
                    t = s['time']
                    time.time = (lambda t=t: float(t)) if t is not None else real_time
                    hc, bc = (s['c'].split('/') + ['simple'])[:2]
                    kw = {}
                    if s['identity'] is not None:
                        kw['identity'] = s['identity'].encode()
                    if s['headers'] is not None:
                        kw['include_headers'] = [h.encode() for h in s['headers']]
                    sig = dkim.sign(msg, s['selector'].encode(), s['domain'].encode(), s['key'].strip().encode(),
                                    canonicalize=(hc.encode(), bc.encode()), signature_algorithm=s['alg'].encode(),
                                    length=s['length'], **kw)
                    msg = sig + msg
                out.append({'msg': base64.b64encode(msg).decode(), 'error': ''})
            except Exception as e:
                out.append({'msg': '', 'error': repr(e)})
            finally:
                time.time = real_time
        print(json.dumps(out))
        """;

    /// <summary>Input: {"port": int or null, "jobs": [{"msg": base64, "keys": {name: record} or null}]}.
    /// Keys come from the job's dictionary, or (keys null) from the DNS server on 127.0.0.1:port via
    /// dnspython. Every signature index is verified on its own. Output: [{"signatures": [...], "error", "log"}].</summary>
    public const string Verify = """
        import sys, json, base64, logging, io
        import dkim
        request = json.load(sys.stdin)
        port = request['port']
        if port is not None:
            import dns.message, dns.query, dns.rdatatype, dns.flags
        def dns_lookup(name, timeout=5):
            qname = name.decode("ascii") if isinstance(name, bytes) else name
            query = dns.message.make_query(qname, dns.rdatatype.TXT)
            response = dns.query.udp(query, "127.0.0.1", port=port, timeout=timeout)
            if response.flags & dns.flags.TC:
                response = dns.query.tcp(query, "127.0.0.1", port=port, timeout=timeout)
            for rrset in response.answer:
                if rrset.rdtype == dns.rdatatype.TXT:
                    return b"".join(list(rrset.items)[0].strings)
            return None
        def dict_lookup(keys):
            keys = {k.lower().rstrip('.'): v for k, v in keys.items()}
            def lookup(name, timeout=5):
                n = name.decode() if isinstance(name, bytes) else name
                r = keys.get(n.lower().rstrip('.'))
                return r.encode() if r is not None else None
            return lookup
        text = lambda v: v.decode("ascii", "replace") if isinstance(v, bytes) else v
        logger = logging.getLogger("dkimpy-driver")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        out = []
        for job in request['jobs']:
            log = io.StringIO()
            handler = logging.StreamHandler(log)
            logger.addHandler(handler)
            results, job_error = [], None
            try:
                message = base64.b64decode(job['msg'])
                dnsfunc = dns_lookup if job['keys'] is None else dict_lookup(job['keys'])
                count = sum(1 for name, _ in dkim.DKIM(message).headers if name.lower() == b"dkim-signature")
                for i in range(count):
                    d = dkim.DKIM(message, logger=logger)
                    error = None
                    try:
                        ok = bool(d.verify(idx=i, dnsfunc=dnsfunc))
                    except Exception as e:
                        ok, error = False, "%s: %s" % (type(e).__name__, e)
                    results.append({"index": i, "pass": ok, "domain": text(d.domain), "selector": text(d.selector), "error": error})
            except Exception as e:
                job_error = "%s: %s" % (type(e).__name__, e)
            finally:
                logger.removeHandler(handler)
            out.append({"signatures": results, "error": job_error, "log": log.getvalue()})
        print(json.dumps(out))
        """;
}
