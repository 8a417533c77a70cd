using SnicRuntime.Firmware.Card;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Hal.Board;

/// <summary>The one registry of HAL drivers: who is in it, and each driver's own checks of its board arguments.</summary>
public class HalDriverRegistryTests
{
    [Fact]
    public void Every_driver_folder_registers_its_driver()
    {
        Assert.Equal(["afpacket", "dpdk", "emulated", "pcap", "shm", "virtio"], HalDrivers.Names);
        Assert.Equal("emulated-io", HalDrivers.Find("emulated")!.Capability);
        Assert.Equal("vhost-user", HalDrivers.Find("virtio")!.Capability);
        Assert.Equal(1, HalDrivers.Find("pcap")!.MaxQueuesPerPort);
        Assert.Equal("shm-io", HalDrivers.Find("shm")!.Capability);
        Assert.Null(HalDrivers.Find("magic"));
        var e = Assert.Throws<HalException>(() => HalDrivers.Of(Board("magic")));
        Assert.Contains("'magic' is not one of afpacket, dpdk, emulated, pcap, shm, virtio", e.Message);
    }

    [Fact]
    public void A_second_driver_of_one_name_is_refused()
    {
        Assert.Throws<InvalidOperationException>(() => HalDrivers.Register(HalDrivers.Find("pcap")!));
    }

    [Theory]
    [InlineData("emulated", "speed=1", "$.hal.args.speed: the emulated driver takes no arguments")]
    [InlineData("pcap", "a.rx=in.pcap,c.tx=out.pcap", "$.hal.args.c.tx: the pcap driver takes '<port>.rx' and '<port>.tx'")]
    [InlineData("virtio", "a.socket=/tmp/a.sock", "$.hal.args: names no 'b.socket'")]
    [InlineData("afpacket", "interfaces=eth1", "$.hal.args.interfaces: names 1 interfaces for 2 ports")]
    [InlineData("afpacket", "rxRing=maybe", "$.hal.args.rxRing: 'maybe' is not true or false")]
    [InlineData("dpdk", "eal=--no-pci", "$.ports[0].device: the dpdk driver needs the port's DPDK device")]
    [InlineData("dpdk", "eal=--no-pci,vdev=x", "$.hal.args.vdev: the dpdk driver takes only 'eal'")]
    public void Each_driver_checks_its_own_arguments_with_their_json_path(string driver, string args, string expected)
    {
        BoardDefinition b = Board(driver, args);
        Assert.Contains(BoardLoader.Validate(b), e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("emulated", "")]
    [InlineData("pcap", "a.rx=in.pcap,b.tx=out.pcap")]
    [InlineData("virtio", "a.socket=/tmp/a.sock,b.socket=/tmp/b.sock")]
    [InlineData("afpacket", "interfaces=eth1,eth2,netns=n1,rxRing=false")]
    public void Good_arguments_pass(string driver, string args)
    {
        Assert.Empty(BoardLoader.Validate(Board(driver, args)));
    }

    [Fact]
    public void The_card_refuses_a_capture_board_with_two_workers_and_leaves_nothing_open()
    {
        BoardDefinition b = Board("pcap", "");
        b.Cpu.DataplaneCores = 2;
        var e = Assert.Throws<BoardNotSupportedException>(() => Dataplane.Create(b, new DataplaneOptions { Workers = 2 }));
        Assert.Contains("capture-file ports have one queue; run it with one worker, not 2", e.Message);
    }

    [Fact]
    public void An_afpacket_board_without_its_interface_names_it()
    {
        BoardDefinition b = Board("afpacket", "interfaces=snic-none0,snic-none1");
        var e = Assert.Throws<BoardNotSupportedException>(() => Dataplane.Create(b, new DataplaneOptions { Workers = 1 }));
        Assert.Contains("snic-none0", e.Message);
    }

    /// <summary>A two-port board for <paramref name="driver"/>; <paramref name="args"/> as key=value pairs, comma-separated (interfaces take the rest of a pair up to the next key).</summary>
    private static BoardDefinition Board(string driver, string args = "")
    {
        BoardDefinition b = TestBoards.Emulated(1);
        b.Hal = new BoardHal { Driver = driver, Args = ParseArgs(args) };
        b.Supported = [HalDrivers.Find(driver)?.Capability ?? "emulated-io"];
        if (driver == "dpdk" && !args.Contains("device", StringComparison.Ordinal))
        {
            b.Ports[0].Device = null;
        }

        return b;
    }

    private static Dictionary<string, string> ParseArgs(string args)
    {
        var result = new Dictionary<string, string>();
        string? last = null;
        foreach (string part in args.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0 && last is not null)
            {
                result[last] += "," + part;
                continue;
            }

            last = part[..eq];
            result[last] = part[(eq + 1)..];
        }

        return result;
    }
}
