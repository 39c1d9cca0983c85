using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Milter.Configuration;

namespace Milter.Commands;

/// <summary>
/// Parses `milter ARGS` with System.CommandLine against <see cref="CliCommands"/> and runs the command.
/// `--help`/`-h` (any command), `--version` and the `[suggest]` completion directive are the library's;
/// parse errors become one line naming the option (with the near option or command meant) and exit 2.
/// </summary>
public static class MilterCli
{
    // "@file" response files are off: a value such as --mail-from @example.com must stay itself.
    private static readonly ParserConfiguration ParserSettings = new() { ResponseFileTokenReplacer = null };

    // Exceptions reach Program (UsageException, ConfigException); signals stay with the commands
    // (`run` drains on SIGTERM through the host, `bench` stops on Ctrl-C itself).
    private static readonly InvocationConfiguration InvocationSettings = new()
    {
        EnableDefaultExceptionHandler = false,
        ProcessTerminationTimeout = null,
    };

    public static async Task<int> RunAsync(string[] args)
    {
        var tree = new Tree();
        if (args.Length == 0)
        {
            // No command: the help, as a usage error.
            await tree.Root.Parse(["--help"], ParserSettings).InvokeAsync(InvocationSettings);
            return Program.ExitUsage;
        }
        // `milter help [COMMAND]` is `milter [COMMAND] --help`.
        if (args[0] == "help") args = [.. args.Skip(1), "--help"];

        var result = tree.Root.Parse(args, ParserSettings);
        if (result.Action is ParseErrorAction) throw new UsageException(ErrorLine(result, tree));
        if (result.Action is not null) return await result.InvokeAsync(InvocationSettings);
        var command = result.CommandResult.Command;
        var spec = tree.Specs[command];
        return await spec.Execute(new CommandLine(spec.Name, result, tree.Options[command]));
    }

    /// <summary>The first parse error as one line: an unknown option or command (with the one meant, when
    /// a typo away), a stray argument, an option without its value.</summary>
    private static string ErrorLine(ParseResult result, Tree tree)
    {
        tree.Specs.TryGetValue(result.CommandResult.Command, out var spec);
        var prefix = spec is null ? "" : spec.Name + ": ";
        if (result.UnmatchedTokens is [var token, ..])
        {
            if (token.Length > 1 && token[0] == '-')
            {
                IEnumerable<string> known = spec is null ? [] : spec.Options.Select(o => "--" + o.Name);
                return $"{prefix}unknown option {token}{Meant(token, known.Append("--" + CliCommands.Dns.Name).Append("--help"))}";
            }
            if (spec is null)
                return $"unknown command '{token}'{Meant(token, CliCommands.All.Select(c => c.Name.Split(' ')[^1]).Concat(CliCommands.Groups.Keys).Distinct())} (try: milter --help)";
            return $"{prefix}unexpected argument '{token}'";
        }
        foreach (var error in result.Errors)
        {
            if (error.SymbolResult is OptionResult { Tokens.Count: 0 } option && option.Option.Arity.MinimumNumberOfValues > 0)
                return $"{prefix}{option.Option.Name} needs a value";
        }
        if (spec is null && tree.Groups.FirstOrDefault(g => g.Value == result.CommandResult.Command).Key is { } group)
            return $"{group}: a subcommand is needed: {string.Join(" or ", CliCommands.All.Where(c => c.Name.StartsWith(group + " ", StringComparison.Ordinal)).Select(c => c.Name))} (try: milter {group} --help)";
        if (spec is null) return "no command given (try: milter --help)";
        return prefix + (result.Errors.Count > 0 ? result.Errors[0].Message : "bad usage");
    }

    /// <summary>"; did you mean X?" for the known name that <paramref name="typed"/> starts (alone), or is a
    /// typo or two away from; "" when none is near.</summary>
    internal static string Meant(string typed, IEnumerable<string> known)
    {
        var names = known.ToList();
        var bare = typed.TrimStart('-');
        var byPrefix = names.Where(k => bare.Length >= 2 && k.TrimStart('-').StartsWith(bare, StringComparison.Ordinal)).ToList();
        if (byPrefix.Count == 1) return $"; did you mean {byPrefix[0]}?";
        var best = names.Select(k => (Name: k, Distance: ConfigKeyCheck.EditDistance(bare, k.TrimStart('-'))))
            .OrderBy(x => x.Distance).FirstOrDefault();
        // Two edits from three letters on: a swap of two letters (--dsn) is two.
        var near = bare.Length < 3 ? 1 : Math.Clamp(bare.Length / 3, 2, 3);
        return best.Name is not null && best.Distance <= near ? $"; did you mean {best.Name}?" : "";
    }

    private static Option ToOption(CliOption o) => o.IsFlag
        ? new Option<bool>("--" + o.Name) { Description = o.Description, Arity = ArgumentArity.Zero }
        // string[] so that a repeated option keeps every value (--listen); the others use the last one.
        : new Option<string[]>("--" + o.Name) { Description = o.Description, HelpName = o.Value };

    /// <summary>The System.CommandLine tree of <see cref="CliCommands.All"/>, with each command's spec and options by name.</summary>
    private sealed class Tree
    {
        public RootCommand Root { get; } = new("DKIM signing, DKIM/SPF/DMARC verification for Postfix and Sendmail (milter protocol)");
        public Dictionary<Command, CliCommandSpec> Specs { get; } = [];
        public Dictionary<Command, Dictionary<string, Option>> Options { get; } = [];
        public Dictionary<string, Command> Groups { get; } = new(StringComparer.Ordinal);

        public Tree()
        {
            var dns = ToOption(CliCommands.Dns);
            dns.Recursive = true;
            Root.Options.Add(dns);
            foreach (var spec in CliCommands.All)
            {
                var words = spec.Name.Split(' ');
                var command = new Command(words[^1], spec.Description);
                var byName = new Dictionary<string, Option>(StringComparer.Ordinal) { [CliCommands.Dns.Name] = dns };
                foreach (var o in spec.Options)
                {
                    var option = ToOption(o);
                    command.Options.Add(option);
                    byName[o.Name] = option;
                }
                Parent(words).Subcommands.Add(command);
                Specs[command] = spec;
                Options[command] = byName;
            }
            var help = Root.Options.OfType<HelpOption>().Single();
            help.Action = new FooterHelpAction((SynchronousCommandLineAction)help.Action!);
        }

        /// <summary>The command that holds a command of <paramref name="words"/>: the root, or its group ("keys").</summary>
        private Command Parent(string[] words)
        {
            if (words.Length == 1) return Root;
            if (!Groups.TryGetValue(words[0], out var group))
            {
                group = new Command(words[0], CliCommands.Groups[words[0]]);
                Root.Subcommands.Add(group);
                Groups[words[0]] = group;
            }
            return group;
        }
    }

    /// <summary>The library's help, then (for `milter --help`) socket specs and exit codes.</summary>
    private sealed class FooterHelpAction(SynchronousCommandLineAction inner) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var code = inner.Invoke(parseResult);
            if (parseResult.CommandResult.Command is RootCommand)
                parseResult.InvocationConfiguration.Output.Write(CliCommands.HelpFooter);
            return code;
        }
    }
}
