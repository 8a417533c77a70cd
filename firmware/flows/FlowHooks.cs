namespace SnicRuntime.Firmware.Flows;

/// <summary>
/// Rare flow events a table reports to its owner (HA replication listens): a TCP state change
/// and an idle flow about to age out. Called on the owning worker's thread; a virtual call only
/// when such an event happens, never per packet.
/// </summary>
public abstract class FlowHooks<TKey> where TKey : unmanaged, IFlowKey<TKey>
{
    /// <summary>An idle flow is due to age out. Return false to keep it (re-filed for another full timeout).</summary>
    public virtual bool Aging(in TKey key, in FlowEntry entry) => true;

    /// <summary>The flow's TCP state changed (handshake completed, FIN or RST); its version was bumped.</summary>
    public virtual void StateChanged(in TKey key, in FlowEntry entry)
    {
    }
}
