using System.CommandLine;
using SnicRuntime.Ctl;
using Spectre.Console;

// Output to a file or a pipe is for scripts and logs: plain text, no colour escapes.
if (Console.IsOutputRedirected)
{
    AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
    {
        Ansi = AnsiSupport.No,
        ColorSystem = ColorSystemSupport.NoColors,
        Interactive = InteractionSupport.No,
        Out = new AnsiConsoleOutput(Console.Out),
    });
}

// snicctl: one command tree; each command lives in its own file under commands/.
var root = new RootCommand("snicctl — manage SnicRuntime SmartNIC/DPU cards")
{
    ReplayCommand.Create(),
    PlanCommands.Create(),
    CardCommands.Create(),
    ApplyCommand.Create(),
    CardQueryCommands.Flows(),
    StatsCommand.Create(),
    DemoCommand.Create(),
    TelemetryCommand.Create(),
    TelemetryCommand.Serve(),
    HaCommands.Create(),
    ImageCommands.Create(),
    FlashCommand.Create(),
    QemuCommand.Create(),
    FleetCommands.Sets(),
    FleetCommands.Eni(),
    FleetCommands.Controllers(),
};
root.Options.Add(State.Dir);
root.Options.Add(State.Json);
foreach (System.CommandLine.Option o in FleetStore.All)
{
    root.Options.Add(o);
}

return root.Parse(args).Invoke();
