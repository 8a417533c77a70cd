namespace SnicRuntime.TestKit;

/// <summary>
/// Seeds of randomized tests. Every such test has a fixed seed, so a run is repeatable;
/// <c>SNIC_TEST_SEED</c> overrides it (to rerun a failure seen with another seed, or to explore),
/// and a failure names the seed it ran with.
/// </summary>
public static class TestSeeds
{
    public const string Variable = "SNIC_TEST_SEED";

    /// <summary>The seed to run with: <c>$SNIC_TEST_SEED</c> when set, else <paramref name="fixedSeed"/>.</summary>
    public static int Of(int fixedSeed) =>
        int.TryParse(Environment.GetEnvironmentVariable(Variable), System.Globalization.CultureInfo.InvariantCulture, out int seed) ? seed : fixedSeed;

    /// <summary>Runs <paramref name="body"/> with a generator of the test's seed; a failure is rethrown naming the seed and how to rerun it.</summary>
    public static void Run(int fixedSeed, Action<Random> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        int seed = Of(fixedSeed);
        try
        {
            body(new Random(seed));
        }
        catch (Exception e)
        {
            throw new SeededTestException(seed, e);
        }
    }
}

/// <summary>A randomized test's failure, with the seed that produced it.</summary>
public sealed class SeededTestException(int seed, Exception inner)
    : Exception($"failed with seed {seed} (rerun with {TestSeeds.Variable}={seed}): {inner.Message}", inner)
{
    public int Seed { get; } = seed;
}
