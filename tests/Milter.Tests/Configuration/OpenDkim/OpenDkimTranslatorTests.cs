using Milter.Configuration;
using Milter.Configuration.OpenDkim;
using Milter.Keys;

namespace Milter.Tests.Configuration.OpenDkim;

/// <summary>Issue 15 item 2: opendkim.conf and its tables read unchanged; what is not supported is named, never silent;
/// what cannot work is a start-up error naming the file and line.</summary>
public sealed class OpenDkimTranslatorTests : IDisposable
{
    private readonly OpenDkimFiles _files = new();

    private static string Signs(KeyStore store, string address)
    {
        var domain = address[(address.LastIndexOf('@') + 1)..];
        return string.Join(" ", store.SignersFor(address, domain).Select(s => $"{s.Options.Domain}/{s.Options.Selector}"));
    }

    private (OpenDkimTranslation Translation, KeyStore Store) Load()
    {
        var t = OpenDkimTranslator.Load(_files.Conf);
        return (t, KeyStore.Load(t.Options.Signing, TimeProvider.System));
    }

    private ConfigException LoadFails() => Assert.Throws<ConfigException>(() => OpenDkimTranslator.Load(_files.Conf));

    [Fact]
    public void Debian_default_config_with_one_key_translates_and_names_each_unsupported_option_once()
    {
        var key = _files.Key("2020");
        _files.WriteConf($"""
            # Debian's /etc/opendkim.conf with its signing lines filled in
            Syslog			yes
            SyslogSuccess		yes
            Canonicalization	relaxed/simple
            OversignHeaders		From
            Domain			example.com
            Selector		2020
            KeyFile		{key}
            UserID			opendkim
            UMask			007
            Socket			local:/run/opendkim/opendkim.sock
            PidFile			/run/opendkim/opendkim.pid
            TrustAnchorFile		/usr/share/dns/root.key
            """);
        var (t, store) = Load();

        Assert.Equal(["unix:/run/opendkim/opendkim.sock"], t.Options.Listen!);
        Assert.Equal("relaxed/simple", t.Options.Signing.Canonicalization);
        Assert.Equal(["From"], t.Options.Signing.OversignHeaders!);
        Assert.Equal(["127.0.0.1", "::1"], t.Options.Signing.InternalHosts!);
        Assert.Equal("0660", t.Options.Server.UnixSocketMode);
        Assert.Equal("example.com/2020", Signs(store, "a@example.com"));
        Assert.Equal("", Signs(store, "a@sub.example.com"));
        Assert.Equal(["Syslog", "SyslogSuccess", "UserID", "PidFile", "TrustAnchorFile"],
            t.Warnings.Select(w => w.Split(": ")[2].Split(' ')[0]));
        Assert.All(t.Warnings, w => Assert.Matches($@"^opendkim: {System.Text.RegularExpressions.Regex.Escape(_files.Conf)} line \d+: \S+ is not supported: ", w));
    }

    [Fact]
    public void Refile_signing_table_is_tried_in_file_order_with_percent_and_third_party_keys()
    {
        _files.Key("a"); _files.Key("b"); _files.Key("relay");
        _files.Write("KeyTable", $"""
            a._domainkey.a.example   a.example:a:{_files.Dir}/keys/a.private
            b.example                b.example:b:{_files.Dir}/keys/b.private
            relay                    relay.example:relay:{_files.Dir}/keys/relay.private
            """);
        _files.Write("SigningTable", """
            # first match wins
            boss@a.example     relay
            *@a.example        a._domainkey.a.example
            *@*.a.example      a._domainkey.a.example
            *b.example         %
            *                  relay
            """);
        _files.WriteConf("KeyTable file:{DIR}/KeyTable\nSigningTable refile:{DIR}/SigningTable\nSocket inet:8891@localhost\n");
        var (t, store) = Load();

        Assert.Equal("relay.example/relay", Signs(store, "boss@a.example"));
        Assert.Equal("a.example/a", Signs(store, "Alice@A.Example"));
        Assert.Equal("a.example/a", Signs(store, "x@deep.sub.a.example"));
        Assert.Equal("b.example/b", Signs(store, "x@b.example"));
        Assert.Equal("relay.example/relay", Signs(store, "x@other.example"));
        Assert.Empty(t.Warnings);
    }

    [Fact]
    public void File_signing_table_follows_opendkim_lookup_order_and_multiple_signatures_adds_every_match()
    {
        _files.Key("one"); _files.Key("two"); _files.Key("three", Milter.MailAuth.Dkim.DkimKeyType.Ed25519);
        _files.Write("keys.table", $"""
            one   example.com:one:{_files.Dir}/keys/one.private
            two   example.com:two:{_files.Dir}/keys/two.private
            three example.com:three:{_files.Dir}/keys/three.private
            """);
        _files.Write("signing.table", """
            *                  three
            .example.com       two
            example.com        one
            """);
        _files.WriteConf("KeyTable {DIR}/keys.table\nSigningTable file:{DIR}/signing.table\n");
        var (t, store) = Load();
        Assert.EndsWith("keys.table line 3: key \"three\" is an Ed25519 key: milter signs it with ed25519-sha256, where OpenDKIM 2.11 fails to sign with it (it applies SignatureAlgorithm to every key)",
            Assert.Single(t.Warnings), StringComparison.Ordinal);
        Assert.Equal("example.com/one", Signs(store, "a@example.com"));
        Assert.Equal("example.com/two", Signs(store, "a@x.example.com"));
        Assert.Equal("example.com/three", Signs(store, "a@example.org"));

        _files.WriteConf("KeyTable {DIR}/keys.table\nSigningTable file:{DIR}/signing.table\nMultipleSignatures yes\n");
        (_, store) = Load();
        Assert.Equal("example.com/one example.com/three", Signs(store, "a@example.com"));
    }

    [Fact]
    public void Host_lists_read_from_files_with_negation()
    {
        _files.Write("TrustedHosts", "127.0.0.1\n::1\n10.0.0.0/8\n!10.9.9.9\n.corp.example\n");
        _files.WriteConf("InternalHosts refile:{DIR}/TrustedHosts\nExternalIgnoreList refile:{DIR}/TrustedHosts\n");
        var (t, _) = Load();
        Assert.Equal(["127.0.0.1", "::1", "10.0.0.0/8", "!10.9.9.9", ".corp.example"], t.Options.Signing.InternalHosts!);
        var hosts = new NetworkList(t.Options.Signing.InternalHosts!);
        Assert.False(hosts.Contains(System.Net.IPAddress.Parse("10.9.9.9")));
        Assert.True(hosts.Contains(System.Net.IPAddress.Parse("10.9.9.8")));
    }

    [Fact]
    public void Options_with_an_equivalent_are_translated()
    {
        _files.WriteConf("""
            Mode sv
            AuthservID mx.example.net
            Canonicalization relaxed
            SignHeaders Subject,Date
            MinimumKeyBits 2048
            MaximumSignaturesToVerify 7
            Nameservers 127.0.0.1@5353,::1
            On-BadSignature accept
            On-Security reject
            RequireSafeKeys no
            AlwaysAddARHeader yes
            """);
        var (t, _) = Load();
        var o = t.Options;
        Assert.Equal("mx.example.net", o.AuthservId);
        Assert.Equal("relaxed/relaxed", o.Signing.Canonicalization);
        Assert.Equal(["From", "Subject", "Date"], o.Signing.SignHeaders!);
        Assert.Equal(2048, o.Verification.MinimumKeyBits);
        Assert.Equal(7, o.Verification.MaxSignatures);
        Assert.Equal(["127.0.0.1:5353", "[::1]"], o.Dns.Servers!);
        Assert.Equal("reject", o.Verification.HeaderLimitAction);
        Assert.True(o.Signing.AllowGroupReadableKeys);
        Assert.Empty(t.Warnings);
    }

    [Fact]
    public void An_on_action_milter_does_not_take_is_a_warning()
    {
        _files.WriteConf("On-BadSignature reject\nOn-Default quarantine\n");
        var (t, _) = Load();
        Assert.Contains(t.Warnings, w => w.EndsWith("line 1: On-BadSignature reject is not supported: milter answers accept there", StringComparison.Ordinal));
        Assert.Contains(t.Warnings, w => w.EndsWith("line 2: On-KeyNotFound quarantine is not supported: milter answers accept there", StringComparison.Ordinal));
    }

    [Fact]
    public void An_unknown_option_names_file_line_and_the_option_meant()
        => Assert.Equal($"opendkim: {_files.WriteConf("Mode sv\n\nSigningTabel refile:/x\n")} line 3: unknown option \"SigningTabel\"; did you mean SigningTable? (see man 5 opendkim.conf)",
            LoadFails().Message);

    [Fact]
    public void A_signing_table_line_naming_a_missing_key_is_an_error_naming_its_line()
    {
        _files.Key("a");
        _files.Write("KeyTable", $"a a.example:a:{_files.Dir}/keys/a.private\n");
        var table = _files.Write("SigningTable", "*@a.example a\n*@b.example b\n");
        _files.WriteConf("KeyTable {DIR}/KeyTable\nSigningTable refile:{DIR}/SigningTable\n");
        Assert.Equal($"opendkim: {table} line 2: SigningTable names the key \"b\", which the KeyTable does not have", LoadFails().Message);
    }

    [Fact]
    public void A_key_file_others_can_read_is_an_error_naming_the_file_and_chmod_600()
    {
        var key = _files.Key("open", mode: UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var keyTable = _files.Write("KeyTable", $"# keys\nopen a.example:open:{key}\n");
        _files.Write("SigningTable", "*@a.example open\n");
        _files.WriteConf("KeyTable {DIR}/KeyTable\nSigningTable refile:{DIR}/SigningTable\n");
        var message = LoadFails().Message;
        Assert.StartsWith($"opendkim: {keyTable} line 2: key file {key} is readable or writable by group or others (mode 0604): run chmod 600 {key}", message, StringComparison.Ordinal);
        Assert.Contains("or set RequireSafeKeys no", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a a.example:a\n", "KeyTable entry \"a\" needs DOMAIN:SELECTOR:KEYFILE, got 2 of 3 fields")]
    [InlineData("a\n", "KeyTable entry \"a\" needs DOMAIN:SELECTOR:KEYFILE, got 0 of 3 fields")]
    // An inline key with a field missing: the error must not carry the key text to the log.
    [InlineData("a a.example::MIIEvQIBADANBgkqh\n", "KeyTable entry \"a\" needs DOMAIN:SELECTOR:KEYFILE, got 2 of 3 fields")]
    [InlineData("a a.example:a:MIIEvQIBADANBgkqh\n", "KeyTable entry \"a\" holds the private key itself; milter reads keys from files only: put it in a file (mode 0600) and give its path")]
    public void A_key_table_line_missing_a_field_is_an_error_naming_its_line(string keyTableText, string problem)
    {
        var keyTable = _files.Write("KeyTable", keyTableText);
        _files.Write("SigningTable", "*@a.example a\n");
        _files.WriteConf("KeyTable {DIR}/KeyTable\nSigningTable refile:{DIR}/SigningTable\n");
        Assert.Equal($"opendkim: {keyTable} line 1: {problem}", LoadFails().Message);
    }

    [Fact]
    public void A_refile_pattern_that_matches_no_address_is_an_error()
    {
        _files.Key("a");
        _files.Write("KeyTable", $"a a.example:a:{_files.Dir}/keys/a.private\n");
        var table = _files.Write("SigningTable", "a.example a\n");
        _files.WriteConf("KeyTable {DIR}/KeyTable\nSigningTable refile:{DIR}/SigningTable\n");
        Assert.StartsWith($"opendkim: {table} line 1: refile pattern \"a.example\" matches no address", LoadFails().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wildcard_in_a_file_signing_table_is_an_error_since_opendkim_never_looks_it_up()
    {
        _files.Key("a");
        _files.Write("KeyTable", $"a a.example:a:{_files.Dir}/keys/a.private\n");
        var table = _files.Write("SigningTable", "*@a.example a\n");
        _files.WriteConf("KeyTable {DIR}/KeyTable\nSigningTable {DIR}/SigningTable\n");
        Assert.StartsWith($"opendkim: {table} line 1: SigningTable key \"*@a.example\" is never looked up in a file: table", LoadFails().Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Mode x\n", "Mode \"x\": use s (sign), v (verify) or sv")]
    [InlineData("SubDomains maybe\n", "SubDomains \"maybe\" is not a boolean (yes/no, true/false, 1/0)")]
    [InlineData("InternalHosts 10.0.0.0/8,10.1\n", "InternalHosts entry \"10.1\" is not an IP address, CIDR network or host name (optionally after !)")]
    [InlineData("Socket\n", "Socket needs a value")]
    [InlineData("InternalHosts dsn:mysql://u@h/db/table=k\n", "InternalHosts uses the data set kind dsn:, which milter does not read; give a flat file (file:, refile: or a path) or a csl: list")]
    public void A_malformed_line_is_an_error_naming_the_line(string conf, string problem)
        => Assert.Equal($"opendkim: {_files.WriteConf(conf)} line 1: {problem}", LoadFails().Message);

    public void Dispose() => _files.Dispose();
}
