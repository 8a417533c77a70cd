using System.CommandLine;
using SnicRuntime.Ctl;

// snicctl: one command tree; each command lives in its own file under commands/.
var root = new RootCommand("snicctl — manage SnicRuntime SmartNIC/DPU cards")
{
    ReplayCommand.Create(),
    PlanCommands.Create(),
    CardCommands.Create(),
    ApplyCommand.Create(),
    CardQueryCommands.Flows(),
    CardQueryCommands.Stats(),
    DemoCommand.Create(),
    TelemetryCommand.Create(),
};
root.Options.Add(State.Dir);
root.Options.Add(State.Json);
return root.Parse(args).Invoke();
