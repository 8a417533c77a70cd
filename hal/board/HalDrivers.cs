using System.Collections.Concurrent;

namespace SnicRuntime.Hal.Board;

/// <summary>
/// The registry of HAL drivers by name. Each driver's folder registers its instance from a module
/// initializer (as DPDK's <c>RTE_PMD_REGISTER_VDEV</c> does from a constructor), so the set of
/// drivers is whatever folders the library holds, and no other code lists their names.
/// </summary>
public static class HalDrivers
{
    private static readonly ConcurrentDictionary<string, HalDriver> s_drivers = new(StringComparer.Ordinal);

    /// <summary>Adds <paramref name="driver"/> under its name; a second driver of the same name is a programming error.</summary>
    public static void Register(HalDriver driver)
    {
        ArgumentNullException.ThrowIfNull(driver);
        if (!s_drivers.TryAdd(driver.Name, driver))
        {
            throw new InvalidOperationException($"a HAL driver named '{driver.Name}' is registered twice");
        }
    }

    /// <summary>Every registered driver's name, sorted (for messages that list the choices).</summary>
    public static IReadOnlyList<string> Names => [.. s_drivers.Keys.Order(StringComparer.Ordinal)];

    public static HalDriver? Find(string name) => s_drivers.GetValueOrDefault(name);

    /// <summary>The driver <paramref name="board"/> names; throws <see cref="HalException"/> naming the choices when none has that name.</summary>
    public static HalDriver Of(BoardDefinition board)
    {
        ArgumentNullException.ThrowIfNull(board);
        return Find(board.Hal.Driver)
            ?? throw new HalException($"HAL driver '{board.Hal.Driver}' is not one of {string.Join(", ", Names)}");
    }
}
