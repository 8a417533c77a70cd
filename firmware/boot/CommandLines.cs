using System.CommandLine;
using System.CommandLine.Help;

namespace SnicRuntime.Firmware.Boot;

/// <summary>One option of a snic-firmware command: its name, the name of its value in help, what it does.</summary>
internal sealed record OptionSpec(string Name, string ValueName, string Description);

/// <summary>
/// The firmware's commands on System.CommandLine: it tokenizes, refuses unknown options and
/// missing values, and writes the help. Values come back as text and each command checks its own,
/// so every error names the option and what it takes ("--seconds: 'abc' is not a number of
/// seconds in (0, 86400]") rather than a type conversion's message.
/// </summary>
internal static class CommandLines
{
    public static void AddOptions(Command command, IEnumerable<OptionSpec> specs)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(specs);
        if (command is not RootCommand)
        {
            command.Options.Add(new HelpOption()); // a root command has one already
        }

        foreach (OptionSpec spec in specs)
        {
            command.Options.Add(new Option<string>(spec.Name) { HelpName = spec.ValueName, Description = spec.Description });
        }
    }

    /// <summary>
    /// Parses <paramref name="args"/> (a subcommand's name first, for a subcommand) against
    /// <paramref name="root"/>, and returns the options of the command they reach, in its order,
    /// with their values. System.CommandLine's own errors (an unknown option, a missing value, an
    /// option given twice) are added to <paramref name="errors"/>. <paramref name="help"/> is true
    /// for --help, -h or -?.
    /// </summary>
    public static List<(string Name, string Value)> Parse(Command root, IReadOnlyList<string> args, List<string> errors, out bool help)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(errors);
        ParseResult result = root.Parse([.. args]);
        help = result.Action is HelpAction;
        errors.AddRange(result.Errors.Select(e => e.Message));
        var given = new List<(string, string)>();
        foreach (Option option in result.CommandResult.Command.Options)
        {
            // The token, not GetValue: a missing value is already in the errors, and GetValue would throw.
            if (option is Option<string> text && result.GetResult(text) is { Implicit: false, Tokens.Count: > 0 } r)
            {
                given.Add((text.Name, r.Tokens[^1].Value));
            }
        }

        return given;
    }

    /// <summary>Writes the help (usage, options with their descriptions) of <paramref name="root"/>, or of its subcommand <paramref name="subcommand"/>, to standard output or <paramref name="writer"/>.</summary>
    public static void WriteHelp(Command root, string? subcommand = null, TextWriter? writer = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        ParseResult result = root.Parse(subcommand is null ? ["--help"] : [subcommand, "--help"]);
        result.InvocationConfiguration.Output = writer ?? Console.Out;
        result.Invoke();
    }
}
