namespace Milter.Configuration;

/// <summary>A configuration value that cannot be used. The message is one line naming the key and the value.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string key, string? value, string problem)
        : this(key, value, problem, source: null)
    {
    }

    /// <param name="source">Where the value came from (the file path, the MILTER_ variable, --listen), or null.</param>
    public ConfigException(string key, string? value, string problem, string? source)
        : base(Format(key, value, problem, source))
    {
        Key = key;
        Value = value;
        Problem = problem;
    }

    public ConfigException(string message) : base(message) { Key = ""; }

    public ConfigException() : base("config error") { Key = ""; }

    public ConfigException(string message, Exception inner) : base(message, inner) { Key = ""; }

    public string Key { get; }
    public string? Value { get; }
    /// <summary>The problem alone, without the key and value (null when the exception was made from a whole message).</summary>
    public string? Problem { get; }

    /// <summary>The one line: <c>config: KEY = "VALUE" (from SOURCE): PROBLEM</c>.</summary>
    public static string Format(string key, string? value, string problem, string? source = null)
        => $"config: {key} = \"{value}\"{(source is null ? "" : $" (from {source})")}: {problem}";
}
