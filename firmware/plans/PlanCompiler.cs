using SnicRuntime.Contracts.Plans;

namespace SnicRuntime.Firmware.Plans;

/// <summary>
/// Compiles a change plan into a <see cref="PolicyTables"/> generation: the whole plan is
/// validated first (<see cref="PlanValidator"/>, the same code the management plane runs before it
/// delivers a plan), and tables are built only when there is no error, so an invalid plan produces
/// nothing and changes nothing. Each feature builds its own tables from the valid plan
/// (PlanCompiler.Build.cs orders them).
/// </summary>
public static partial class PlanCompiler
{
    /// <summary>Compiles <paramref name="plan"/>; null with <paramref name="errors"/> filled when it is invalid.</summary>
    /// <param name="previous">The running generation, so ENIs keep their indices (flows and counters are keyed by them).</param>
    /// <param name="portCount">Ports the card has, to check the uplink port (0 = unknown, not checked).</param>
    public static PolicyTables? Compile(ChangePlan plan, PolicyTables? previous, List<PlanError> errors, int portCount = 0)
    {
        PlanValidator.ValidPlan? valid = PlanValidator.Validate(plan, errors, portCount);
        return valid is null ? null : Build(valid, plan, previous);
    }

    /// <summary>Parses and compiles in one step (what the card agent and <c>snic-firmware replay</c> do).</summary>
    public static PolicyTables? Compile(string json, PolicyTables? previous, List<PlanError> errors, int portCount = 0)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ChangePlan? plan = PlanJson.Parse(json, out PlanError? error);
        if (plan is null)
        {
            errors.Add(error!.Value);
            return null;
        }

        return Compile(plan, previous, errors, portCount);
    }
}
