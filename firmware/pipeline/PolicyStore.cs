using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Plans;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>The outcome of applying a plan.</summary>
public sealed record ApplyResult(bool Accepted, long Generation, IReadOnlyList<PlanError> Errors, bool Unchanged = false);

/// <summary>
/// Holds the running generation. Applying compiles off the hot path and publishes the new tables
/// with one reference write; workers pick it up at their next burst. Nothing on the hot path locks:
/// the apply lock only orders concurrent appliers against each other.
/// </summary>
public sealed class PolicyStore(int portCount = 0)
{
    private readonly Lock _apply = new();
    private volatile PolicyTables? _current;
    private long _installed;

    /// <summary>The running generation (null until the first plan).</summary>
    public PolicyTables? Current => _current;

    /// <summary>Generations compiled and swapped in since start (no-op re-applies not counted): how a test sees nothing was applied twice.</summary>
    public long Installed => Volatile.Read(ref _installed);

    /// <summary>
    /// Validates and compiles <paramref name="plan"/> and swaps it in. Refused when invalid (every
    /// error listed) or older than the running generation; re-applying the running generation's
    /// exact plan is accepted as a no-op, so a retried delivery is harmless.
    /// </summary>
    public ApplyResult Apply(ChangePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        lock (_apply)
        {
            PolicyTables? running = _current;
            if (running is not null && plan.Generation is long g && g <= running.Generation)
            {
                if (g == running.Generation && PlanJson.Write(plan) == PlanJson.Write(running.Source))
                {
                    return new ApplyResult(true, g, [], Unchanged: true);
                }

                return new ApplyResult(false, running.Generation,
                    [new PlanError("$.generation", $"generation {g} is not newer than the running generation {running.Generation}")]);
            }

            var errors = new List<PlanError>();
            PolicyTables? tables = PlanCompiler.Compile(plan, running, errors, portCount);
            if (tables is null)
            {
                return new ApplyResult(false, running?.Generation ?? 0, errors);
            }

            _current = tables;
            Volatile.Write(ref _installed, _installed + 1);
            return new ApplyResult(true, tables.Generation, []);
        }
    }

    /// <summary>Parses and applies a plan document.</summary>
    public ApplyResult Apply(string json)
    {
        ChangePlan? plan = PlanJson.Parse(json, out PlanError? error);
        return plan is null ? new ApplyResult(false, _current?.Generation ?? 0, [error!.Value]) : Apply(plan);
    }
}
