using Milter.Commands;
using Milter.Configuration;

namespace Milter;

public static class Program
{
    public const int ExitOk = 0, ExitCheckFailed = 1, ExitUsage = 2, ExitTemporary = 3;

    public static async Task<int> Main(string[] args)
    {
        try
        {
            return await MilterCli.RunAsync(args);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine("milter: " + e.Message);
            return ExitUsage;
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine("milter: " + e.Message);
            return ExitUsage;
        }
    }
}
