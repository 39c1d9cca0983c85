namespace Milter.Commands;

/// <summary>
/// The byte streams behind the CLI's standard input and output (a message in, a signed message out). A process
/// uses its own. A test that runs many commands at once inside its own process gives each call its streams with
/// <see cref="UseInThisFlow"/>: the choice holds for that call's async flow only. Text goes through
/// <see cref="Console.Out"/> and <see cref="Console.Error"/>, which such a test redirects itself.
/// </summary>
internal static class CliStdio
{
    private static readonly AsyncLocal<(Stream Input, Stream Output)?> Streams = new();

    /// <summary>True when standard input is a terminal (a person, not a pipe or a file).</summary>
    public static bool InputIsTerminal => Streams.Value is null && !Console.IsInputRedirected;

    /// <summary>Standard input as bytes; the caller disposes it.</summary>
    public static Stream OpenInput()
    {
        if (Streams.Value is { } given) return given.Input;
        return Console.OpenStandardInput();
    }

    /// <summary>Standard output as bytes; the caller disposes it.</summary>
    public static Stream OpenOutput()
    {
        if (Streams.Value is { } given) return given.Output;
        return Console.OpenStandardOutput();
    }

    internal static void UseInThisFlow(Stream input, Stream output) => Streams.Value = (input, output);
}
