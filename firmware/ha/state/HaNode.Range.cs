using SnicRuntime.Firmware.Ha.Sync;
using SnicRuntime.Firmware.Plans;

namespace SnicRuntime.Firmware.Ha;

/// <summary>ENI range sync (SPEC §3): the active resends one ENI's flows, and only them, to its standby.</summary>
public sealed partial class HaNode
{
    /// <summary>
    /// Starts a range sync of <paramref name="eni"/>: the standby forgets what it holds of that ENI
    /// and receives the active's flows of it again (a repair, and the step that hands an ENI's flows
    /// to a card that has none). Only the active of the ENI's scope, with its standby up and no bulk
    /// sync under way, may start one. Returns the request number; the standby counts the range in
    /// <see cref="FlowSync.RangesReceived"/> when its end marker arrives.
    /// </summary>
    /// <exception cref="ArgumentException">No such ENI in the running plan, or in no scope of this card.</exception>
    /// <exception cref="InvalidOperationException">This card is not the scope's active with a standby, or a bulk sync is under way.</exception>
    public uint RangeSync(string eni)
    {
        lock (_gate)
        {
            PolicyTables? tables = _policy.Current;
            int index = tables?.Enis.FirstOrDefault(e => e?.Name == eni)?.Index ?? -1;
            if (index < 0)
            {
                throw new ArgumentException($"no ENI named '{eni}' in the running plan", nameof(eni));
            }

            int scope = IndexOfScopeWith(eni);
            if (scope < 0)
            {
                throw new ArgumentException($"ENI '{eni}' is in no HA scope of this card", nameof(eni));
            }

            HaStateMachine m = _scopes[scope];
            if (ModeOf(m.State) != HaMode.Replicate)
            {
                throw new InvalidOperationException($"ENI '{eni}': scope '{m.Scope}' is {m.State} here; the scope's active sends a range sync, with its standby up");
            }

            if (Sync.BulkInProgress)
            {
                throw new InvalidOperationException($"ENI '{eni}': a bulk sync is under way (it sends every flow already); try again when it ends");
            }

            return Sync.RequestRange(index);
        }
    }

    private int IndexOfScopeWith(string eni)
    {
        for (int i = 0; i < _config.Scopes.Count; i++)
        {
            if (_config.Scopes[i].Enis.Contains(eni))
            {
                return i;
            }
        }

        return -1;
    }
}
