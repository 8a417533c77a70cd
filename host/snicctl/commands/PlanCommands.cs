using System.CommandLine;

namespace SnicRuntime.Ctl;

/// <summary><c>snicctl plans validate &lt;plan.json&gt;</c>: whole-plan validation without a card.</summary>
internal static class PlanCommands
{
    public static Command Create()
    {
        var file = new Argument<string>("plan") { Description = "change-plan JSON file" };
        var validate = new Command("validate", "check a change plan and list every error with its JSON path") { file };
        validate.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            int rc = PlanFiles.Load(path, 0, out var store);
            if (rc == ExitCodes.Ok)
            {
                var t = store.Current!;
                Console.WriteLine($"{path}: valid, generation {t.Generation}: {t.EniCount} ENIs, {t.VnetNames.Length} VNETs, {t.Actions.Length - 1} tunnel actions");
            }

            return rc;
        });
        return new Command("plans", "change plans") { validate };
    }
}
