using System.CommandLine;

namespace Milter.Commands;

/// <summary>Thrown for bad usage: exit code 2 with the message on stderr.</summary>
public sealed class UsageException : Exception
{
    public UsageException(string message) : base(message) { }
    public UsageException() { }
    public UsageException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>The options one command was given, as System.CommandLine parsed them against the command's
/// <see cref="CliCommandSpec"/>: "--name value", "--name=value" and "--flag". A valued option given twice
/// keeps its last value (<see cref="GetAll"/> has them all). Unknown options never get here: the parser
/// rejected them (<see cref="MilterCli"/>).</summary>
public sealed class CommandLine
{
    private readonly ParseResult _result;
    private readonly IReadOnlyDictionary<string, Option> _options;

    internal CommandLine(string command, ParseResult result, IReadOnlyDictionary<string, Option> options)
    {
        Command = command;
        _result = result;
        _options = options;
    }

    public string Command { get; }

    public bool Flag(string name) => _result.GetValue((Option<bool>)Find(name));

    public string? Get(string name) => GetAll(name) is [.., var last] ? last : null;

    public string Require(string name) => Get(name) ?? throw new UsageException($"{Command}: --{name} is required");

    public IReadOnlyList<string> GetAll(string name) => _result.GetValue((Option<string[]>)Find(name)) ?? [];

    public int GetInt(string name, int defaultValue, int min, int max)
    {
        var s = Get(name);
        if (s is null) return defaultValue;
        if (!int.TryParse(s, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new UsageException($"{Command}: --{name} must be a number from {min} to {max}, not '{s}'");
        return v;
    }

    /// <summary>An option the command reads but did not declare is a bug in the command table, not bad usage.</summary>
    private Option Find(string name) => _options.TryGetValue(name, out var option) ? option
        : throw new InvalidOperationException($"{Command}: --{name} is not declared in {nameof(CliCommands)}");
}
