using SnicRuntime.Contracts.Plans;

namespace SnicRuntime.Ctl;

/// <summary>Loading a plan file with errors a user can act on (file, JSON path, reason).</summary>
internal static class PlanFiles
{
    /// <summary>Reads and validates <paramref name="path"/> as a whole plan; prints every error and returns an exit code.</summary>
    /// <param name="portCount">Ports of the board the plan is for, to check its uplink port (0: not checked).</param>
    public static int Load(string path, int portCount, out PlanValidator.ValidPlan? plan)
    {
        plan = null;
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"snicctl: cannot read plan '{path}': {e.Message}");
            return ExitCodes.InputError;
        }

        var errors = new List<PlanError>();
        plan = PlanValidator.Validate(json, errors, portCount);
        if (plan is null)
        {
            Console.Error.WriteLine($"snicctl: plan '{path}' has {errors.Count} error(s); nothing applied:");
            foreach (PlanError error in errors)
            {
                Console.Error.WriteLine($"  {error.Path}: {error.Reason}");
            }

            return ExitCodes.Rejected;
        }

        return ExitCodes.Ok;
    }
}
