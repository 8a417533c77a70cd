using SnicRuntime.Firmware.Plans;
using System.Runtime.CompilerServices;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>The metering step: per ENI and meter class, packet and byte buckets counted on every packet a flow's action applies to.</summary>
public sealed partial class PolicyPipeline
{
    /// <summary>Counts a packet of <paramref name="bytes"/> in its ENI's bucket for the action word's meter class (top 8 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Meter(long[] meter, Eni eni, uint action, int bytes)
    {
        int bucket = (eni.Index * PolicyTables.MaxMeterClasses + (int)(action >> 24)) * 2;
        meter[bucket]++;
        meter[bucket + 1] += bytes;
    }
}
