using SnicRuntime.Hal;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Hal.Core;

public class SpscRingTests
{
    // The ring never dereferences what it carries, so sequence numbers can travel as "pointers".
    private static PacketRef Seq(long i) => PacketRef.FromRaw((nint)i);

    [Fact]
    public void Burst_enqueue_dequeue_keeps_order_and_respects_capacity()
    {
        using var ring = new SpscRing<PacketRef>(8);
        var input = Enumerable.Range(1, 10).Select(i => Seq(i)).ToArray();
        Assert.Equal(8, ring.EnqueueBurst(input));
        Assert.Equal(0, ring.EnqueueBurst(input.AsSpan(8)));
        Assert.Equal(8, ring.Count);

        var output = new PacketRef[5];
        Assert.Equal(5, ring.DequeueBurst(output));
        Assert.Equal(new nint[] { 1, 2, 3, 4, 5 }, output.Select(p => p.Raw));
        Assert.Equal(2, ring.EnqueueBurst(input.AsSpan(8)));
        var rest = new PacketRef[16];
        Assert.Equal(5, ring.DequeueBurst(rest));
        Assert.Equal(new nint[] { 6, 7, 8, 9, 10 }, rest.Take(5).Select(p => p.Raw));
        Assert.Equal(0, ring.DequeueBurst(rest));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(6)]
    public void Rejects_sizes_that_are_not_powers_of_two(int size)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpscRing<PacketRef>(size));
    }

    [Fact]
    public void Two_threads_hammering_one_ring_see_every_item_once_in_order()
    {
        const long items = 5_000_000;
        using var ring = new SpscRing<PacketRef>(256);
        long mismatches = 0;
        long received = 0;
        var consumer = new Thread(() =>
        {
            var burst = new PacketRef[32];
            long expected = 1;
            while (expected <= items)
            {
                int n = ring.DequeueBurst(burst);
                for (int i = 0; i < n; i++)
                {
                    if (burst[i].Raw != (nint)expected)
                    {
                        mismatches++;
                    }

                    expected++;
                }

                if (n == 0)
                {
                    Thread.SpinWait(8);
                }
            }

            received = expected - 1;
        });
        consumer.Start();

        var batch = new PacketRef[32];
        long next = 1;
        TestSeeds.Run(7, rng =>
        {
            while (next <= items)
            {
                // Vary burst sizes so wrap-around lands at every offset.
                int want = (int)Math.Min(rng.Next(1, 33), items - next + 1);
                for (int i = 0; i < want; i++)
                {
                    batch[i] = Seq(next + i);
                }

                int sent = ring.EnqueueBurst(batch.AsSpan(0, want));
                next += sent;
                if (sent == 0)
                {
                    Thread.SpinWait(8);
                }
            }

            Assert.True(consumer.Join(TimeSpan.FromSeconds(60)), "consumer did not finish");
            Assert.Equal(0, mismatches);
            Assert.Equal(items, received);
        });
    }

    private readonly record struct Wide(long A, long B, long C);

    [Fact]
    public void One_item_at_a_time_of_a_wide_value_keeps_order_and_reports_full_and_empty()
    {
        using var ring = new SpscRing<Wide>(4);
        Assert.False(ring.TryDequeue(out _));
        for (int i = 0; i < 4; i++)
        {
            Assert.True(ring.TryEnqueue(new Wide(i, -i, i * 3)));
        }

        Assert.False(ring.TryEnqueue(new Wide(9, 9, 9)));
        for (int round = 0; round < 10; round++)
        {
            Assert.True(ring.TryDequeue(out Wide w));
            Assert.Equal(new Wide(round, -round, round * 3), w);
            Assert.True(ring.TryEnqueue(new Wide(round + 4, -(round + 4), (round + 4) * 3)));
        }

        Assert.Equal(4, ring.Count);
    }
}
