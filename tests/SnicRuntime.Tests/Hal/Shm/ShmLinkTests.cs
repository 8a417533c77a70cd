using System.Text;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Shm;
using Xunit;

namespace SnicRuntime.Tests.Hal.Shm;

/// <summary>The shared-memory link file: both sides' mappings, wrap-around, the status board, a card's restart, and files that are not links.</summary>
public sealed class ShmLinkTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-shm-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string LinkPath => Path.Combine(_dir, "card.link");

    [Fact]
    public void Frames_cross_both_ways_in_order_through_many_wraps_of_a_small_ring()
    {
        using ShmLink fabric = ShmLink.Create(LinkPath, slots: 16, slotBytes: 256);
        using ShmLink card = ShmLink.Attach(LinkPath);
        ShmRing down = fabric.Ring(0, toCard: true), up = card.Ring(0, toCard: false);
        ShmRing downRx = card.Ring(0, toCard: true), upRx = fabric.Ring(0, toCard: false);
        int sent = 0, received = 0, back = 0;
        var frame = new byte[200];
        while (received < 5000)
        {
            while (sent < 5000 && down.Free() > 0)
            {
                frame.AsSpan().Fill((byte)sent);
                Assert.True(down.TrySend(frame.AsSpan(0, 60 + sent % 140)));
                sent++;
            }

            int ready = downRx.Ready();
            for (int i = 0; i < ready; i++)
            {
                ReadOnlySpan<byte> f = downRx.Peek(i, out bool oversize);
                Assert.False(oversize);
                Assert.Equal(60 + received % 140, f.Length);
                Assert.Equal((byte)received, f[^1]);
                Assert.True(up.TrySend(f[..10]), "the ring back has room: it is emptied below each round");
                received++;
            }

            downRx.Release(ready);
            back += upRx.Ready();
            upRx.Release(upRx.Ready());
        }

        Assert.Equal(5000, back);
        Assert.False(down.TrySend(new byte[300]), "a frame larger than a slot is refused");
    }

    [Fact]
    public void The_status_board_is_read_whole_once_per_change_and_a_restarted_card_starts_empty()
    {
        using ShmLink fabric = ShmLink.Create(LinkPath);
        ulong seq = 0;
        var buffer = new byte[ShmLink.StatusCapacity];
        Assert.False(fabric.TryReadStatus(ref seq, buffer, out _), "nothing announced yet");
        using (ShmLink card = ShmLink.Attach(LinkPath))
        {
            Assert.True(fabric.TryReadStatus(ref seq, buffer, out int n));
            Assert.Equal("{}", Encoding.UTF8.GetString(buffer, 0, n));
            card.PublishStatus("{\"generation\":7}"u8);
            Assert.True(fabric.TryReadStatus(ref seq, buffer, out n));
            Assert.Equal("{\"generation\":7}", Encoding.UTF8.GetString(buffer, 0, n));
            Assert.False(fabric.TryReadStatus(ref seq, buffer, out _), "unchanged: not read again");
            Assert.Throws<ArgumentException>(() => card.PublishStatus(new byte[ShmLink.StatusCapacity + 1]));
        }

        // Frames queued toward a card that died are flushed (and counted) when its successor attaches.
        for (int i = 0; i < 5; i++)
        {
            Assert.True(fabric.Ring(0, toCard: true).TrySend(new byte[64]));
        }

        using ShmLink restarted = ShmLink.Attach(LinkPath);
        Assert.Equal(0, restarted.Ring(0, toCard: true).Ready());
        Assert.Equal(5, fabric.FlushedAtAttach);
        Assert.Equal(2, fabric.CardAttaches);
        Assert.Equal(Environment.ProcessId, fabric.CardProcessId);
        Assert.True(fabric.TryReadStatus(ref seq, buffer, out int m));
        Assert.Equal("{}", Encoding.UTF8.GetString(buffer, 0, m));
    }

    [Fact]
    public void A_corrupt_length_in_a_slot_is_a_counted_drop_not_a_read_outside_the_ring()
    {
        using ShmLink fabric = ShmLink.Create(LinkPath, slots: 8, slotBytes: 256);
        using var pool = new PacketPool(64);
        using var port = new ShmPort(new PortSpec(0, "p", 1, 8, 8, 100), pool, ShmLink.Attach(LinkPath));
        ShmRing down = fabric.Ring(0, toCard: true);
        down.Write(0, new byte[64]);
        down.Write(1, new byte[64]);
        down.Publish(2);
        // Overwrite the first slot's length field with nonsense, as a broken peer could.
        using (var file = System.IO.MemoryMappedFiles.MemoryMappedFile.CreateFromFile(LinkPath, FileMode.Open))
        using (var view = file.CreateViewAccessor())
        {
            view.Write(ShmLink.HeaderBytes + 128, int.MaxValue);
        }

        var burst = new PacketRef[8];
        int n = port.RxQueue(0).RxBurst(burst);
        Assert.Equal(1, n);
        Assert.Equal(64, burst[0].Length);
        pool.FreeBulk(burst.AsSpan(0, n));
        Assert.Equal(1, port.ReadCounters().RxOversizeDrops);
        Assert.Equal(pool.BufferCount, pool.Available);
    }

    [Fact]
    public void Files_that_are_not_links_are_refused_with_the_reason()
    {
        ShmLinkException missing = Assert.Throws<ShmLinkException>(() => ShmLink.Attach(LinkPath));
        Assert.Contains("does not exist (the fabric creates it", missing.Message, StringComparison.Ordinal);

        File.WriteAllBytes(LinkPath, new byte[100]);
        Assert.Contains("too short for a link header", Assert.Throws<ShmLinkException>(() => ShmLink.Attach(LinkPath)).Message, StringComparison.Ordinal);

        File.WriteAllBytes(LinkPath, new byte[ShmLink.HeaderBytes * 2]);
        Assert.Contains("not a SnicRuntime link (bad magic)", Assert.Throws<ShmLinkException>(() => ShmLink.Attach(LinkPath)).Message, StringComparison.Ordinal);

        using (ShmLink.Create(LinkPath, slots: 4, slotBytes: 128))
        {
        }

        using (FileStream f = File.OpenWrite(LinkPath))
        {
            f.Seek(8, SeekOrigin.Begin);
            f.Write(BitConverter.GetBytes(9u));
        }

        Assert.Contains("version 9, this build speaks 1", Assert.Throws<ShmLinkException>(() => ShmLink.Attach(LinkPath)).Message, StringComparison.Ordinal);

        using (ShmLink.Create(LinkPath, slots: 4, slotBytes: 128))
        {
        }

        using (FileStream f = File.OpenWrite(LinkPath))
        {
            f.SetLength(f.Length - 64);
        }

        Assert.Contains("does not match its", Assert.Throws<ShmLinkException>(() => ShmLink.Attach(LinkPath)).Message, StringComparison.Ordinal);
        Assert.Contains("not a valid shape", Assert.Throws<ShmLinkException>(() => ShmLink.Create(LinkPath, slots: 100)).Message, StringComparison.Ordinal);
    }
}

/// <summary>The shm driver's board arguments.</summary>
public sealed class ShmDriverBoardTests
{
    [Fact]
    public void A_board_naming_too_few_links_or_an_unknown_argument_is_refused_with_the_json_path()
    {
        string json = File.ReadAllText(Path.Combine(SnicRuntime.TestKit.TestPaths.BoardsDirectory, "emulated", "fabric-card.json"))
            .Replace("\"links\": \"/dev/shm/snic-fabric-card0.link\"", "\"links\": \"\", \"ring\": \"big\"", StringComparison.Ordinal);
        var e = Assert.Throws<SnicRuntime.Hal.Board.BoardException>(() => SnicRuntime.Hal.Board.BoardLoader.Parse(json));
        Assert.Contains("$.hal.args.ring: the shm driver takes links", e.Errors);
        Assert.Contains("$.hal.args.links: names 0 link files for 1 ports", e.Errors);
        var missing = SnicRuntime.Firmware.Card.BoardRequirements.Missing(SnicRuntime.Hal.Board.BoardLoader.Parse(json.Replace("\"links\": \"\", \"ring\": \"big\"", "\"links\": \"/nonexistent/x.link\"", StringComparison.Ordinal)), 1);
        Assert.Contains("shm link '/nonexistent/x.link': not present (the fabric creates it; start the fabric first)", missing);
    }
}
