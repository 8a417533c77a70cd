namespace SnicRuntime.Firmware.Ha.Channel;

/// <summary>
/// Anti-replay for datagram counters (as IPsec ESP does it, RFC 4303 §3.4.3): the highest counter
/// seen and a 64-bit bitmap of the ones just below it. A counter seen before, or older than the
/// window, is a replay. Checked only after the frame authenticated, so a forger cannot move it.
/// </summary>
public struct ReplayWindow
{
    public const int Width = 64;

    private ulong _highest;
    private ulong _seen; // bit i: counter (_highest - i) was seen

    /// <summary>True and recorded when <paramref name="counter"/> is new; false for a replay (or 0).</summary>
    public bool Accept(ulong counter)
    {
        if (counter == 0)
        {
            return false;
        }

        if (counter > _highest)
        {
            ulong shift = counter - _highest;
            _seen = shift >= Width ? 1UL : (_seen << (int)shift) | 1UL;
            _highest = counter;
            return true;
        }

        ulong age = _highest - counter;
        if (age >= Width)
        {
            return false;
        }

        ulong bit = 1UL << (int)age;
        if ((_seen & bit) != 0)
        {
            return false;
        }

        _seen |= bit;
        return true;
    }

    public void Reset() => this = default;
}
