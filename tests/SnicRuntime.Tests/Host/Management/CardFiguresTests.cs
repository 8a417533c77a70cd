using SnicRuntime.Firmware.Workers;
using SnicRuntime.Management;
using Xunit;

namespace SnicRuntime.Tests.Host.Management;

/// <summary>The burst-latency buckets and the figures derived from them.</summary>
public sealed class CardFiguresTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(64, 0)]
    [InlineData(65, 1)]
    [InlineData(128, 1)]
    [InlineData(129, 2)]
    [InlineData(1_000, 4)] // 513..1024
    [InlineData(1L << 24, 18)]
    [InlineData((1L << 24) + 1, 19)]
    [InlineData(long.MaxValue, 19)]
    public void Latency_buckets_are_powers_of_two_from_64_ns(long ns, int bucket)
    {
        Assert.Equal(bucket, BurstLatency.Bucket(ns));
        Assert.True(ns <= BurstLatency.UpperBoundNs(bucket));
        Assert.True(bucket == 0 || ns > BurstLatency.UpperBoundNs(bucket - 1));
    }

    [Fact]
    public void Percentiles_interpolate_inside_the_bucket_and_the_open_bucket_answers_its_lower_bound()
    {
        double[] bounds = [100, 200, 400, double.PositiveInfinity];
        Assert.Equal(0, CardFigures.Percentile([0, 0, 0, 0], bounds, 0.5));
        Assert.Equal(150, CardFigures.Percentile([0, 10, 0, 0], bounds, 0.5)); // half-way through 100..200
        Assert.Equal(50, CardFigures.Percentile([10, 10, 0, 0], bounds, 0.25));
        Assert.Equal(400, CardFigures.Percentile([0, 0, 0, 5], bounds, 0.99));
    }

    [Fact]
    public void Rates_need_two_readings_and_a_restarted_card_does_not_give_negative_rates()
    {
        var t0 = DateTimeOffset.UnixEpoch;
        CardSample Sample(DateTimeOffset at, long rx, long busyNs) => new(at, 1,
            [new WorkerSample(0, rx, rx, 0, busyNs, busyNs * 2, [rx, 0])], new Dictionary<string, long>(), 0, 10, [], 2000, [100, double.PositiveInfinity]);

        Assert.Equal(0, CardFigures.Derive("c", null, Sample(t0, 100, 1000)).Workers[0].RxPps);
        CardFigures f = CardFigures.Derive("c", Sample(t0, 100, 1_000), Sample(t0.AddSeconds(2), 1100, 51_000));
        Assert.Equal(500, f.Workers[0].RxPps);
        Assert.Equal(50_000 * 2.0 / 1000, f.Workers[0].CyclesPerPacket); // 50 µs at 2 GHz over 1000 packets
        Assert.Equal(50_000 / 2e9, f.Workers[0].BusyRatio, 12);
        Assert.Equal(0, CardFigures.Derive("c", Sample(t0, 1100, 51_000), Sample(t0.AddSeconds(1), 10, 100)).Workers[0].RxPps);
        Assert.Equal(0, CardFigures.Lifetime("c", Sample(t0, 100, 1000)).Workers[0].RxPps);
        Assert.Equal(20, CardFigures.Lifetime("c", Sample(t0, 100, 1000)).Workers[0].CyclesPerPacket);
    }
}
