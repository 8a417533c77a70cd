using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Plans;

namespace SnicRuntime.Ctl;

/// <summary>Loading a plan file with errors a user can act on (file, JSON path, reason).</summary>
internal static class PlanFiles
{
    /// <summary>Reads and applies <paramref name="path"/> to a fresh store; prints every error and returns an exit code.</summary>
    public static int Load(string path, int portCount, out PolicyStore store)
    {
        store = new PolicyStore(portCount);
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

        ApplyResult result = store.Apply(json);
        if (!result.Accepted)
        {
            Console.Error.WriteLine($"snicctl: plan '{path}' has {result.Errors.Count} error(s); nothing applied:");
            foreach (PlanError error in result.Errors)
            {
                Console.Error.WriteLine($"  {error.Path}: {error.Reason}");
            }

            return ExitCodes.Rejected;
        }

        return ExitCodes.Ok;
    }
}
