using SnicRuntime.Firmware.Ha.Channel;
using SnicRuntime.Firmware;
using SnicRuntime.TestKit.Faults;
using SnicRuntime.TestKit.Ha;
using System.Buffers.Binary;
using SnicRuntime.Firmware.Ha;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Bench;

/// <summary>
/// Planned switchover, both ways, under steady traffic, on the stepped harness (both cards in
/// this process, one clock, a lossless in-memory network): every packet sent to the pair must
/// leave it. Counts packets lost and the time each hand-over took on that clock.
/// </summary>
internal static class HaSwitchoverRun
{
    public static List<(string, double)> Run(int flows)
    {
        long now = 0;
        var net = new FaultyNetwork(1, () => now);
        using var a = new HaCard(1, 2, net.A, HaRole.Active, 1, flows * 2);
        using var b = new HaCard(2, 1, net.B, HaRole.Standby, 1, flows * 2);
        a.Preload(flows);
        HaCard[] cards = [a, b];
        long injected = 0, delivered = 0;
        var synDelivered = new Queue<ushort>();
        int next = 0;
        var buffer = new PacketRef[64];

        void Step()
        {
            foreach (HaCard c in cards)
            {
                c.Dp.Workers[0].PollOnce();
                c.Node.Poll(now);
            }

            now++;
            // The network: frames to the other card's underlay address go there; the rest left the pair.
            foreach ((HaCard from, HaCard to) in new[] { (a, b), (b, a) })
            {
                int n;
                while ((n = from.Dp.EmulatedPort(0).Drain(buffer)) > 0)
                {
                    for (int i = 0; i < n; i++)
                    {
                        Span<byte> f = buffer[i].Data;
                        if (BinaryPrimitives.ReadUInt32BigEndian(f[(14 + 16)..]) == to.Node.Modes.LocalUnderlay)
                        {
                            to.Inject(f.ToArray());
                            continue;
                        }

                        delivered++;
                        if (PacketParser.Parse(f, out ParsedPacket p) == DropReason.None && (p.TcpFlags & (byte)TcpFlags.Syn) != 0)
                        {
                            synDelivered.Enqueue(p.SrcPort);
                        }
                    }

                    from.Dp.Pool.FreeBulk(buffer.AsSpan(0, n));
                }
            }
        }

        void Traffic()
        {
            for (int k = 0; k < 8; k++)
            {
                a.Inject(HaCard.Frame((ushort)(next++ % 60000), TcpFlags.Syn, src: 0x0A030000u + (uint)(next / 60000)));
                injected++;
            }

            for (int k = 0; k < 8 && synDelivered.TryDequeue(out ushort sport); k++)
            {
                a.Inject(HaCard.Frame(sport, TcpFlags.Ack, src: 0x0A030000u + (uint)((next - 1) / 60000)));
                injected++;
            }

            Step();
        }

        for (int s = 0; s < 3000 && !(a.State == HaState.Active && b.State == HaState.Standby); s++)
        {
            Step(); // pairing: bulk sync of the preloaded flows
        }

        for (int s = 0; s < 100; s++)
        {
            Traffic();
        }

        var took = new List<double>();
        foreach ((HaCard from, HaCard to, long term) in new[] { (a, b, 2L), (b, a, 3L) })
        {
            long started = now;
            from.Node.Command("scope-eni1", new HaEvent(HaEventKind.Switchover, term));
            to.Node.Command("scope-eni1", new HaEvent(HaEventKind.Switchover, term));
            while (!(from.State == HaState.Standby && to.State == HaState.Active) && now - started < 5000)
            {
                Traffic();
            }

            took.Add(now - started);
            for (int s = 0; s < 100; s++)
            {
                Traffic();
            }
        }

        for (int s = 0; s < 500 && delivered < injected; s++)
        {
            Step();
        }

        return [("switchover_packets_lost", injected - delivered), ("packets", injected), ("handover_ms_a_to_b", took[0]), ("handover_ms_b_to_a", took[1]),
            ("flows", flows)];
    }
}
