using System.Text;
using Milter.Keys;
using Milter.MailAuth.Dkim;

namespace Milter.Commands;

/// <summary>`milter keygen --domain D --selector S [--algorithm rsa-sha256|ed25519-sha256] [--bits 2048]
/// [--directory DIR] [--force]`: writes DIR/S.private (PKCS#8 PEM, mode 0600 from creation) and DIR/S.txt
/// (the zone-file TXT record for S._domainkey.D).</summary>
public static class KeygenCommand
{
    internal const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static int Execute(CommandLine cl)
    {
        var names = DkimKeyArguments.Read(cl);
        var algorithm = cl.Get("algorithm") ?? "rsa-sha256";
        var bitsGiven = cl.Get("bits") is not null;
        var bits = cl.GetInt("bits", 2048, DkimPrivateKey.MinRsaBits, DkimPrivateKey.MaxRsaBits);
        var directory = cl.Get("directory") ?? ".";
        var force = cl.Flag("force");

        var type = algorithm switch
        {
            "rsa-sha256" => DkimKeyType.Rsa,
            "ed25519-sha256" => DkimKeyType.Ed25519,
            _ => throw new UsageException($"keygen: --algorithm must be rsa-sha256 or ed25519-sha256, not '{algorithm}'"),
        };
        if (type == DkimKeyType.Ed25519 && bitsGiven)
            throw new UsageException("keygen: --bits applies to rsa-sha256 only (Ed25519 keys have a fixed size)");
        if (type == DkimKeyType.Rsa && bits < KeyRecordCheck.RecommendedRsaBits)
            Console.Error.WriteLine($"warning: {bits}-bit RSA keys are weak; use {KeyRecordCheck.RecommendedRsaBits} bits or more (RFC 8301 3.2)");

        var privatePath = Path.Combine(directory, names.Selector + ".private");
        var txtPath = Path.Combine(directory, names.Selector + ".txt");
        if (!force)
        {
            foreach (var path in new[] { privatePath, txtPath })
            {
                if (File.Exists(path))
                    throw new UsageException($"keygen: {path} already exists; use --force to replace it");
            }
        }
        try
        {
            if (!Directory.Exists(directory))
            {
                if (OperatingSystem.IsWindows()) Directory.CreateDirectory(directory);
                else Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"keygen: cannot create directory {directory}: {e.Message}");
        }

        using var key = DkimPrivateKey.Generate(type, bits);
        var record = ZoneTxtRecord.Format(names.RecordName, key.PublicKeyRecord);
        WriteFile(privatePath, key.ExportPkcs8Pem(), OwnerOnly, force);
        WriteFile(txtPath, record + "\n",
            OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead, force);

        var what = type == DkimKeyType.Rsa ? $"{bits}-bit RSA" : "Ed25519";
        Console.Out.WriteLine($"wrote {privatePath} ({what} private key for {key.Algorithm}, PKCS#8 PEM, mode 0600)");
        Console.Out.WriteLine($"wrote {txtPath} (TXT record, {ZoneTxtRecord.Split(key.PublicKeyRecord).Count} string(s) of at most {ZoneTxtRecord.MaxStringLength} characters)");
        Console.Out.WriteLine($"publish it as the TXT record of {names.RecordName}, then check with: milter testkey --domain {names.Domain} --selector {names.Selector} --key {privatePath}");
        return Program.ExitOk;
    }

    /// <summary>Creates the file with <paramref name="mode"/> from the first moment (never wider, even briefly).
    /// Without <paramref name="force"/> an existing file is an error; with it, a new file is written beside
    /// it and renamed over it.</summary>
    internal static void WriteFile(string path, string text, UnixFileMode mode, bool force, string command = "keygen")
    {
        var target = force ? path + ".tmp-" + Guid.NewGuid().ToString("N")[..8] : path;
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = mode;
            using (var stream = new FileStream(target, options))
            {
                stream.Write(Encoding.ASCII.GetBytes(text));
                stream.Flush(flushToDisk: true);
            }
            if (force) File.Move(target, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (force) TryDelete(target);
            if (!force && File.Exists(path) && e is IOException)
                throw new UsageException($"{command}: {path} already exists; use --force to replace it");
            throw new UsageException($"{command}: cannot write {path}: {e.Message}");
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: the temporary file is left behind
        }
    }
}
