namespace SnicRuntime.Firmware.Ha.Sync;

/// <summary>
/// The HA mode of every ENI (by its stable index), published by the card's HA node and read by
/// the workers once per burst: one array reference, replaced whole when a scope changes state, so
/// a burst sees one consistent picture and nothing locks.
/// </summary>
public sealed class HaModeMap
{
    private volatile byte[] _modes = [];

    /// <summary>The peer card's underlay address (IPv4, host order): where a standby redirects traffic.</summary>
    public uint PeerUnderlay { get; set; }

    /// <summary>This card's own underlay address (IPv4, host order): traffic a standby peer redirects arrives addressed to it.</summary>
    public uint LocalUnderlay { get; set; }

    public byte[] Modes => _modes;

    /// <summary>Publishes modes for ENI indices 0..n-1 (missing ones are <see cref="HaMode.Alone"/>).</summary>
    public void Publish(ReadOnlySpan<HaMode> modes)
    {
        var next = new byte[modes.Length];
        for (int i = 0; i < modes.Length; i++)
        {
            next[i] = (byte)modes[i];
        }

        _modes = next;
    }

    public static HaMode Of(byte[] modes, int eni) => (uint)eni < (uint)modes.Length ? (HaMode)modes[eni] : HaMode.Alone;
}
