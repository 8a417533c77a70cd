using System.Runtime.InteropServices;

namespace SnicRuntime.Hal.Board;

/// <summary>The facts about the running system that board requirements are checked against (replaceable in tests).</summary>
public sealed class SystemFacts
{
    public required string Architecture { get; init; }

    public required int OnlineCpus { get; init; }

    /// <summary>MemAvailable in MiB, when the system reports it.</summary>
    public long? AvailableMiB { get; init; }

    public Func<string, bool> InterfaceExists { get; init; } = _ => true;

    /// <summary>Why a HAL driver cannot run here, or null when it can.</summary>
    public Func<string, string?> DriverMissing { get; init; } = DriverMissingHere;

    /// <summary>The instruction-set features named by <paramref name="isa"/> that this CPU lacks, or null.</summary>
    public Func<string, string?> MissingInstructions { get; init; } = _ => null;

    public static SystemFacts OfThisSystem() => new()
    {
        Architecture = RuntimeInformation.ProcessArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.X64 => "x86-64",
            System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
            System.Runtime.InteropServices.Architecture other => other.ToString(),
        },
        OnlineCpus = Environment.ProcessorCount,
        AvailableMiB = ReadMemAvailableMiB(),
        InterfaceExists = name => !OperatingSystem.IsLinux() || Directory.Exists(Path.Combine("/sys/class/net", name)),
        MissingInstructions = MissingX64Levels,
    };

    private static string? DriverMissingHere(string driver) =>
        HalDrivers.Find(driver) is HalDriver d ? d.Unavailable()
            : $"not built into this firmware (it has {string.Join(", ", HalDrivers.Names)})";

    private static long? ReadMemAvailableMiB()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) / 1024;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
        }

        return null;
    }

    /// <summary>x86-64 micro-architecture levels (the psABI's v2/v3/v4); Arm levels are the image's concern.</summary>
    private static string? MissingX64Levels(string isa)
    {
        if (RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            return null;
        }

        var lacking = new List<string>();
        if (isa is "x86-x64-v2" or "x86-x64-v3" or "x86-x64-v4")
        {
            if (!System.Runtime.Intrinsics.X86.Sse42.IsSupported)
            {
                lacking.Add("SSE4.2");
            }

            if (!System.Runtime.Intrinsics.X86.Popcnt.IsSupported)
            {
                lacking.Add("POPCNT");
            }
        }

        if (isa is "x86-x64-v3" or "x86-x64-v4")
        {
            if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported)
            {
                lacking.Add("AVX2");
            }

            if (!System.Runtime.Intrinsics.X86.Bmi2.IsSupported)
            {
                lacking.Add("BMI2");
            }
        }

        if (isa is "x86-x64-v4" && !System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            lacking.Add("AVX-512F");
        }

        return lacking.Count == 0 ? null : string.Join(", ", lacking);
    }
}
