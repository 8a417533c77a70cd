using SnicRuntime.Hal.Board;

namespace SnicRuntime.Firmware.Card;

/// <summary>
/// What a board asks of the system the firmware starts on, checked before anything is allocated:
/// the core architecture and instruction set, a HAL driver built into this firmware, enough online
/// CPUs for the workers, memory for the packet pool, and the interfaces an AF_PACKET board names.
/// Every unmet requirement is listed, so a user fixes them in one round.
/// </summary>
public static class BoardRequirements
{
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

        // What the driver itself needs of the system (an AF_PACKET board's interfaces, ...).
        HalDrivers.Find(board.Hal.Driver)?.CheckSystem(board, facts, missing);

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

