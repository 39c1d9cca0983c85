using Milter.TestKit;
using Xunit.Abstractions;

namespace Milter.Containers.Tests.Packaging;

/// <summary>
/// The package on a Debian that boots systemd as PID 1 in a podman container (no network): `apt install`
/// creates the milter user and starts the Type=notify unit in its sandbox, `milter health` passes on the Unix
/// and TCP sockets, `systemctl reload` is a SIGHUP the daemon logs to the journal, `apt remove` leaves
/// config, keys and data, `apt purge` removes config and data but keeps keys, and a reinstall with a
/// `milter` user of another uid uses that user and says so.
/// </summary>
[Collection(PackagingCollection.Name)]
public sealed class SystemdContainerTests(DebPackage package, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _container = "milter-systemd-test-" + Environment.ProcessId;
    private const string Deb = "/mnt/deb/milter_1.0.0_amd64.deb";

    public async Task InitializeAsync()
    {
        await Podman.OutputAsync("run", "-d", "--name", _container, "--runtime", "runc", "--systemd=always",
            "--network", "none", "-v", package.Directory + ":/mnt/deb:ro", DebPackage.SystemdImage);
        // The bus socket appears a moment after the container starts.
        var booted = await ExecAsync("for i in $(seq 1 60); do st=$(systemctl is-system-running --wait 2>/dev/null); " +
            "case $st in running|degraded) echo $st; exit 0;; esac; sleep 1; done; echo \"$st\"; exit 1");
        if (booted.StdOut.Trim() is not ("running" or "degraded"))
        {
            // xunit does not call DisposeAsync when InitializeAsync fails: remove the container here.
            await DisposeAsync();
            throw new InvalidOperationException("systemd did not boot in the container\n" + booted.Describe());
        }
    }

    [Fact]
    public async Task Installs_runs_under_systemd_reloads_and_removes_as_documented()
    {
        var install = await ExecAsync($"DEBIAN_FRONTEND=noninteractive apt-get install -y -q {Deb}");
        output.WriteLine(install.StdOut);
        install.EnsureSuccess("apt install");
        await ExpectAsync("systemctl is-active milter", "active");
        await ExpectAsync("stat -c '%U %a' /var/lib/milter", "milter 750");
        await ExpectAsync("milter health --connect unix:/run/milter/milter.sock --timeout-ms 10000", "ok: unix:/run/milter/milter.sock");
        await ExpectAsync("milter health --connect inet:8891@127.0.0.1 --timeout-ms 10000", "ok: inet:8891@127.0.0.1");

        // Type=notify: systemd saw READY=1 (the unit went active); reload = SIGHUP, same main process.
        string pid = (await ExecAsync("systemctl show -p MainPID --value milter")).StdOut.Trim();
        (await ExecAsync("systemctl reload milter")).EnsureSuccess("systemctl reload milter");
        await ExpectAsync("for i in $(seq 1 30); do journalctl -u milter --no-pager | grep -q 'reload: config' && break; sleep 1; done; journalctl -u milter --no-pager -o cat", "reload: config and 0 signing key(s) loaded");
        await ExpectAsync("systemctl show -p MainPID --value milter", pid);
        // Under systemd the lines carry journald's <N> priority prefix instead of our timestamp: an error line
        // (a reload of a broken config) is filed at priority err, and no line starts with a timestamp.
        (await ExecAsync("cp /etc/milter/milter.json /root/milter.json && echo '{' > /etc/milter/milter.json && systemctl reload milter")).EnsureSuccess("reload a broken config");
        await ExpectAsync("for i in $(seq 1 30); do journalctl -u milter -p err --no-pager -o cat | grep -q 'reload failed' && break; sleep 1; done; journalctl -u milter -p err --no-pager -o cat", "reload failed, keeping the running config");
        await ExpectAsync("cp /root/milter.json /etc/milter/milter.json; journalctl -u milter _COMM=milter --no-pager -o cat | grep -c '^[0-9]'; true", "0");
        await ExpectAsync("systemctl show -p NRestarts --value milter", "0");

        // An upgrade (here a reinstall: postinst configure with the old version) keeps the key directory's mode as
        // the postmaster set it. (/var/lib/milter is the unit's StateDirectory: systemd sets its mode at each start.)
        (await ExecAsync("chmod 0700 /etc/milter/keys")).EnsureSuccess("chmod");
        (await ExecAsync($"DEBIAN_FRONTEND=noninteractive apt-get install --reinstall -y -q {Deb}")).EnsureSuccess("apt reinstall");
        await ExpectAsync("stat -c '%a' /etc/milter/keys", "700");
        await ExpectAsync("systemctl is-active milter", "active");

        // apt remove: config, keys and data stay; the service is gone.
        (await ExecAsync("echo key > /etc/milter/keys/sel.example.pem && echo data > /var/lib/milter/verification.jsonl")).EnsureSuccess("make key and data");
        (await ExecAsync("DEBIAN_FRONTEND=noninteractive apt-get remove -y -q milter")).EnsureSuccess("apt remove");
        await ExpectAsync("systemctl is-active milter; true", "inactive");
        await ExpectAsync("ls /etc/milter/milter.json /etc/milter/keys/sel.example.pem /var/lib/milter/verification.jsonl", "/var/lib/milter/verification.jsonl");

        // apt purge: config and data go, the keys stay and purge says so.
        var purge = (await ExecAsync("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q milter")).EnsureSuccess("apt purge");
        Assert.Contains("keeping the private keys in /etc/milter/keys", purge.StdOut + purge.StdErr);
        await ExpectAsync("test ! -e /etc/milter/milter.json && test ! -e /var/lib/milter && cat /etc/milter/keys/sel.example.pem", "key");

        // A milter user that exists with another uid: postinst uses it and says so.
        (await ExecAsync("userdel milter; groupdel milter 2>/dev/null; useradd --system --uid 4321 --user-group --no-create-home milter")).EnsureSuccess("useradd");
        var again = (await ExecAsync($"DEBIAN_FRONTEND=noninteractive apt-get install -y -q {Deb}")).EnsureSuccess("apt install again");
        Assert.Contains("using the existing user milter (uid 4321", again.StdOut + again.StdErr);
        await ExpectAsync("stat -c '%u' /var/lib/milter", "4321");
        await ExpectAsync("systemctl is-active milter", "active");
        await ExpectAsync("milter health --connect unix:/run/milter/milter.sock --timeout-ms 10000", "ok: unix:");
    }

    private Task<ProcessResult> ExecAsync(string script) =>
        Podman.RunAsync(TimeSpan.FromMinutes(3), "exec", _container, "sh", "-c", script);

    private async Task ExpectAsync(string script, string expected)
    {
        var run = await ExecAsync(script);
        Assert.True(run.StdOut.Contains(expected, StringComparison.Ordinal),
            $"expected '{expected}' from: {script}\n{run.Describe()}\n--- journal ---\n{(await ExecAsync("journalctl -u milter --no-pager | tail -n 30")).StdOut}");
    }

    public async Task DisposeAsync() => await Podman.RunAsync("rm", "-f", "-t", "5", _container);
}
