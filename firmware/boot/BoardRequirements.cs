using System.Runtime.InteropServices;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Firmware.Boot;

/// <summary>
/// What a board asks of the system the firmware starts on, checked before anything is allocated:
/// the core architecture and instruction set, a HAL driver built into this firmware, enough online
/// CPUs for the workers, memory for the packet pool, and the interfaces an AF_PACKET board names.
/// Every unmet requirement is listed, so a user fixes them in one round.
/// </summary>
public static class BoardRequirements
{
    /// <summary>The drivers this firmware always carries; dpdk also when its shim loads.</summary>
    public static readonly string[] BuiltDrivers = ["emulated", "afpacket", "pcap", "virtio"];

    /// <summary>Unmet requirements of <paramref name="board"/> for <paramref name="workers"/> workers; empty when it can run.</summary>
    public static List<string> Missing(BoardDefinition board, int workers, SystemFacts? facts = null)
    {
        ArgumentNullException.ThrowIfNull(board);
        facts ??= SystemFacts.OfThisSystem();
        var missing = new List<string>();
        if (board.Cpu.Architecture != facts.Architecture)
        {
            missing.Add($"{board.Cpu.Architecture} cores: this firmware was built for {facts.Architecture}; build the image for {board.RuntimeIdentifier} (snicctl image build --board {board.Id})");
        }
        else if (board.Cpu.InstructionSet is string isa && facts.MissingInstructions(isa) is string lacking)
        {
            missing.Add($"instruction set {isa}: this CPU lacks {lacking}");
        }

        if (facts.DriverMissing(board.Hal.Driver) is string why)
        {
            missing.Add($"HAL driver '{board.Hal.Driver}': {why}");
        }

        if (workers > facts.OnlineCpus)
        {
            missing.Add($"{workers} dataplane cores: this system has {facts.OnlineCpus} CPUs online (run fewer workers with --workers)");
        }

        long poolMiB = ((long)board.Memory.PacketBuffers * (board.Memory.BufferDataRoom + board.Memory.BufferHeadroom + 64)) >> 20;
        if (facts.AvailableMiB is long available && poolMiB > available)
        {
            missing.Add($"{poolMiB} MiB for {board.Memory.PacketBuffers} packet buffers: {available} MiB of memory is available");
        }

        if (board.Hal.Driver == "afpacket" && !board.Hal.Args.ContainsKey("netns"))
        {
            // In a namespace the interfaces are looked up when the port opens; here we can see them.
            string[] names = board.Hal.Args.TryGetValue("interfaces", out string? list) ? list.Split(',', StringSplitOptions.TrimEntries)
                : [.. board.Ports.Select(p => p.Name)];
            foreach (string name in names)
            {
                if (!facts.InterfaceExists(name))
                {
                    missing.Add($"network interface '{name}': not present on this system");
                }
            }
        }

        return missing;
    }

    /// <summary>Throws <see cref="BoardNotSupportedException"/> listing everything missing.</summary>
    public static void Check(BoardDefinition board, int workers, SystemFacts? facts = null)
    {
        List<string> missing = Missing(board, workers, facts);
        if (missing.Count > 0)
        {
            throw new BoardNotSupportedException($"board '{board.Id}' cannot run here; it needs:\n  " + string.Join("\n  ", missing));
        }
    }
}

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

    private static string? DriverMissingHere(string driver)
    {
        if (Array.IndexOf(BoardRequirements.BuiltDrivers, driver) >= 0)
        {
            return null;
        }

        if (driver == "dpdk")
        {
            try
            {
                Hal.Dpdk.DpdkEal.EnsureShim();
                return null;
            }
            catch (Hal.Dpdk.DpdkException e)
            {
                return "not built into this firmware: " + e.Message;
            }
        }

        return $"not built into this firmware (it has {string.Join(", ", BoardRequirements.BuiltDrivers)}, and dpdk where its shim is built)";
    }

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
