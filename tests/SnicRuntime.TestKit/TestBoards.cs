using SnicRuntime.Hal.Board;

namespace SnicRuntime.TestKit;

/// <summary>A small emulated board for worker tests: two ports, <paramref name="cores"/> workers.</summary>
public static class TestBoards
{
    public static BoardDefinition Emulated(int cores = 2) => new()
    {
        Id = "test",
        Vendor = "test",
        Model = "test",
        Cpu = new BoardCpu { Architecture = "x86-64", DataplaneCores = cores },
        Memory = new BoardMemory { TotalMiB = 64, PacketBuffers = 8192 },
        Ports = [new BoardPort { Name = "a", SpeedGbps = 10 }, new BoardPort { Name = "b", SpeedGbps = 10 }],
        Queues = new BoardQueues { RxDepth = 1024, TxDepth = 1024, Burst = 32 },
        Hal = new BoardHal { Driver = "emulated" },
        RuntimeIdentifier = "linux-x64",
        Supported = ["emulated-io"],
    };
}
