using System.Text.Json;
using Milter.Configuration;
using Milter.Keys;
using Milter.Keys.Rotation;

namespace Milter.Commands;

/// <summary>`milter keys status [--config FILE] [--json]`: per signing domain and algorithm, the active selector, the pending
/// one and whether every configured resolver serves its record, and the retiring ones with the time after which their record
/// can be removed (switch + Signing:Rotation:RetireAfterDays). Exit 0 all good (a pending record not yet served included),
/// 1 a problem (a corrupt state file, a missing key, a record served with another key), 3 a DNS lookup failed temporarily.</summary>
public static class KeysStatusCommand
{
    private sealed record PendingStatus(RotationKey Key, IReadOnlyList<RotationDns.Answer> Answers, string? Error, DateTimeOffset? SwitchAfter);

    private sealed record Row(string Domain, string Algorithm, RotationKey Active, string? ActiveError, PendingStatus? Pending,
        IReadOnlyList<(RotationKey Key, DateTimeOffset? RemovableAfter)> Retiring);

    public static async Task<int> ExecuteAsync(CommandLine cl)
    {
        var timeoutMs = cl.GetInt("timeout-ms", 15_000, 100, 600_000);
        var options = ConfigLoader.Load(cl.Get("config"), listen: null, dnsServers: cl.Get("dns"));
        var store = KeyStore.Load(options.Signing, TimeProvider.System);
        var file = RotationStateFile.For(options.Reports);
        RotationState state;
        string? stateError = null;
        try
        {
            state = file.Read();
        }
        catch (RotationStateException e)
        {
            stateError = e.Message + "; the daemon keeps signing with the last good keys";
            state = new RotationState();
        }

        var rotation = options.Signing.Rotation;
        var resolvers = RotationDns.Resolvers(options);
        var now = DateTimeOffset.UtcNow;
        var rows = new List<Row>();
        var warnings = new List<string>();
        foreach (var domain in store.RotatableDomains())
        {
            foreach (var configured in store.RotatableKeys(domain))
            {
                var algorithm = configured.Key!.Algorithm;
                var entry = state.Find(domain, algorithm);
                var active = entry?.Active ?? new RotationKey { Selector = configured.Selector, KeyFile = configured.KeyFile };
                var activeError = entry is null ? null : KeyProblem(active, algorithm, options.Signing);
                PendingStatus? pending = null;
                if (entry?.Pending is { } p)
                    pending = await PendingAsync(p, domain, algorithm, options.Signing, resolvers, timeoutMs, rotation);
                var retiring = (entry?.Retiring ?? []).Select(r => (r, r.SwitchedAt + TimeSpan.FromDays(rotation.RetireAfterDays))).ToList();
                rows.Add(new Row(domain, algorithm, active, activeError, pending, retiring));
            }
        }
        foreach (var entry in state.Keys.Where(e => !rows.Any(r => r.Domain == e.Domain && r.Algorithm == e.Algorithm)))
            warnings.Add($"warning: rotation state {file.Path} names {entry.Domain} {entry.Algorithm}, which no configured key uses: it changes nothing");

        var code = stateError is not null || rows.Any(r => r.ActiveError is not null || r.Pending?.Error is not null
                                                         || (r.Pending?.Answers.Any(a => a.Code == Program.ExitCheckFailed && !a.Line.StartsWith("fail: no TXT record", StringComparison.Ordinal)) ?? false))
            ? Program.ExitCheckFailed
            : rows.Any(r => r.Pending?.Answers.Any(a => a.Code == Program.ExitTemporary) ?? false) ? Program.ExitTemporary : Program.ExitOk;
        Console.Out.Write(cl.Flag("json") ? Json(file, stateError, rows, warnings, now) + "\n" : Text(file, stateError, rows, warnings, now));
        return code;
    }

    private static string? KeyProblem(RotationKey key, string algorithm, SigningSection signing)
    {
        try
        {
            using var loaded = KeyStore.LoadKeyFile("key", key.KeyFile, signing.AllowGroupReadableKeys);
            return loaded.Algorithm == algorithm ? null : $"key file {key.KeyFile} holds a {loaded.Algorithm} key, not {algorithm}";
        }
        catch (ConfigException e)
        {
            return e.Problem ?? e.Message;
        }
    }

    private static async Task<PendingStatus> PendingAsync(RotationKey pending, string domain, string algorithm, SigningSection signing,
        IReadOnlyList<(string Name, Milter.MailAuth.Dns.IDnsResolver Resolver)> resolvers, int timeoutMs, RotationSection rotation)
    {
        var problem = KeyProblem(pending, algorithm, signing);
        if (problem is not null) return new PendingStatus(pending, [], problem + "; the daemon will not switch to it", null);
        using var key = KeyStore.LoadKeyFile("key", pending.KeyFile, allowGroupReadable: true);
        var answers = await RotationDns.CheckAsync(resolvers, domain, pending.Selector, key, pending.KeyFile, timeoutMs);
        var switchAfter = pending.ServedSince + TimeSpan.FromMinutes(rotation.PublishedForMinutes);
        return new PendingStatus(pending, answers, null, switchAfter);
    }

    private static string Text(RotationStateFile file, string? stateError, List<Row> rows, List<string> warnings, DateTimeOffset now)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append("rotation state: ").Append(file.Path).Append(file.Exists ? "" : " (none yet)").Append('\n');
        if (stateError is not null) sb.Append("error: ").Append(stateError).Append('\n');
        foreach (var w in warnings) sb.Append(w).Append('\n');
        foreach (var r in rows)
        {
            var head = $"{r.Domain} {r.Algorithm}:";
            sb.Append($"{head} active selector {r.Active.Selector} ({r.Active.KeyFile})\n");
            if (r.ActiveError is not null) sb.Append($"{head} error: active key: {r.ActiveError}; the daemon keeps signing with the last good key\n");
            if (r.Pending is { } p)
            {
                sb.Append($"{head} pending selector {p.Key.Selector} ({p.Key.KeyFile})");
                if (p.Error is not null) sb.Append($": error: {p.Error}\n");
                else if (RotationDns.AllServed(p.Answers))
                    sb.Append($": served by every resolver ({p.Answers.Count})")
                      .Append(p.SwitchAfter is { } at ? $"; the daemon switches at {RotationState.Text(at)} or its first check after" : "; the daemon switches after its next check has seen it for the configured time").Append('\n');
                else
                    sb.Append(": not served yet: ").Append(string.Join("; ", p.Answers.Where(a => !a.Served).Select(a => $"{a.Resolver}: {a.Line}"))).Append('\n');
            }
            foreach (var (key, removable) in r.Retiring)
            {
                var record = $"{key.Selector}._domainkey.{r.Domain}";
                sb.Append($"{head} retiring selector {key.Selector} ({key.KeyFile})");
                sb.Append(removable is not { } at ? ": no switch time recorded; keep its record\n"
                    : at <= now ? $": removable: the record {record} can be removed (since {RotationState.Text(at)})\n"
                    : $": keep the record {record} until {RotationState.Text(at)}, then remove it\n");
            }
        }
        return sb.ToString();
    }

    private static string Json(RotationStateFile file, string? stateError, List<Row> rows, List<string> warnings, DateTimeOffset now) => CliJson.Object(w =>
    {
        w.WriteString("stateFile", file.Path);
        w.WriteString("stateError", stateError);
        w.WriteStartArray("warnings");
        foreach (var warning in warnings) w.WriteStringValue(warning);
        w.WriteEndArray();
        w.WriteStartArray("keys");
        foreach (var r in rows)
        {
            w.WriteStartObject();
            w.WriteString("domain", r.Domain);
            w.WriteString("algorithm", r.Algorithm);
            w.WriteStartObject("active");
            Key(w, r.Active);
            w.WriteString("error", r.ActiveError);
            w.WriteEndObject();
            if (r.Pending is not { } p) w.WriteNull("pending");
            else
            {
                w.WriteStartObject("pending");
                Key(w, p.Key);
                w.WriteBoolean("served", p.Error is null && RotationDns.AllServed(p.Answers));
                Time(w, "switchAfter", p.SwitchAfter);
                w.WriteStartArray("resolvers");
                foreach (var a in p.Answers)
                {
                    w.WriteStartObject();
                    w.WriteString("resolver", a.Resolver);
                    w.WriteString("result", a.Code switch { 0 => "pass", 3 => "temperror", _ => "fail" });
                    w.WriteString("detail", a.Line);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteString("error", p.Error);
                w.WriteEndObject();
            }
            w.WriteStartArray("retiring");
            foreach (var (key, removable) in r.Retiring)
            {
                w.WriteStartObject();
                Key(w, key);
                Time(w, "removableAfter", removable);
                w.WriteBoolean("removable", removable is { } at && at <= now);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    private static void Key(Utf8JsonWriter w, RotationKey key)
    {
        w.WriteString("selector", key.Selector);
        w.WriteString("keyFile", key.KeyFile);
        Time(w, "createdAt", key.CreatedAt);
        Time(w, "servedSince", key.ServedSince);
        Time(w, "switchedAt", key.SwitchedAt);
    }

    private static void Time(Utf8JsonWriter w, string name, DateTimeOffset? time)
    {
        if (time is { } t) w.WriteString(name, RotationState.Text(t));
        else w.WriteNull(name);
    }
}
