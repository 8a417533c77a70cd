using System.CommandLine;
using SnicRuntime.Management;

namespace SnicRuntime.Ctl;

/// <summary>Where snicctl keeps its state (inventory, journal): --state DIR, else $SNICCTL_HOME, else ~/.snicctl.</summary>
internal static class State
{
    public static readonly Option<string?> Dir = new("--state") { Description = "state directory (default: $SNICCTL_HOME or ~/.snicctl)", Recursive = true };

    public static readonly Option<bool> Json = new("--json") { Description = "print JSON for scripts", Recursive = true };

    public static string Directory(ParseResult parse) => parse.GetValue(Dir) ?? Environment.GetEnvironmentVariable("SNICCTL_HOME")
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".snicctl");

    public static ManagementStore Open(ParseResult parse) => new(Path.Combine(Directory(parse), "state.db"));

    /// <summary>The management plane's TLS identity (null until a card has been enrolled).</summary>
    public static ManagementIdentity? Identity(ParseResult parse) => ManagementIdentity.Load(Directory(parse));

    /// <summary>Writes a JSON value built with Utf8JsonWriter (no reflection).</summary>
    public static void WriteJson(Action<System.Text.Json.Utf8JsonWriter> write)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var w = new System.Text.Json.Utf8JsonWriter(stdout, new System.Text.Json.JsonWriterOptions { Indented = true }))
        {
            write(w);
        }

        Console.WriteLine();
    }
}
