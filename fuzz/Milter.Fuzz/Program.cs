using SharpFuzz;

namespace Milter.Fuzz;

/// <summary>
/// Entry point. <c>Milter.Fuzz TARGET</c> runs the target under afl-fuzz (SharpFuzz's out-of-process fork
/// server: a stack overflow in a child is reported as a crash instead of killing the server);
/// <c>Milter.Fuzz TARGET FILE...</c> runs it once per file outside AFL and prints any failure (to replay a finding).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Targets.All.TryGetValue(args[0], out var target))
        {
            Console.Error.WriteLine($"usage: Milter.Fuzz TARGET [FILE...]; targets: {string.Join(' ', Targets.All.Keys)}");
            return 2;
        }
        if (args.Length == 1)
        {
            Fuzzer.OutOfProcess.Run(stream => target(ReadAll(stream)));
            return 0;
        }
        var failed = 0;
        foreach (var file in args.Skip(1))
        {
            try
            {
                target(File.ReadAllBytes(file));
                Console.WriteLine($"ok: {file}");
            }
            catch (Exception ex)
            {
                failed++;
                Console.WriteLine($"FAILED: {file}: {ex}");
            }
        }
        return failed == 0 ? 0 : 1;
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
