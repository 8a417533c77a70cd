using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Architecture;

/// <summary>Randomized tests are repeatable, can be rerun with another seed, and name the seed they failed with.</summary>
public class TestSeedsTests
{
    [Fact]
    public void A_failure_names_its_seed_and_how_to_rerun_it()
    {
        int seed = TestSeeds.Of(5); // 5 unless SNIC_TEST_SEED is set
        var e = Assert.Throws<SeededTestException>(() => TestSeeds.Run(5, _ => throw new InvalidOperationException("boom")));
        Assert.Equal(seed, e.Seed);
        Assert.Contains($"rerun with SNIC_TEST_SEED={seed}", e.Message, StringComparison.Ordinal);
        Assert.Contains("boom", e.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(e.InnerException);
    }

    [Fact]
    public void One_seed_gives_one_sequence()
    {
        var first = new List<int>();
        var second = new List<int>();
        TestSeeds.Run(77, r => first.AddRange(Enumerable.Range(0, 16).Select(_ => r.Next())));
        TestSeeds.Run(77, r => second.AddRange(Enumerable.Range(0, 16).Select(_ => r.Next())));
        Assert.Equal(first, second);
    }
}
