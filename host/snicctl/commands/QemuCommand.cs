using SnicRuntime.Contracts.Images;
using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using SnicRuntime.Management;
using SnicRuntime.Management.Images;

namespace SnicRuntime.Ctl;

/// <summary>
/// <c>snicctl qemu run IMAGE</c>: boots a QEMU board's image as a card, enrolls it (mutual TLS),
/// adds it to the inventory once its agent answers, and keeps it running until --seconds pass,
/// the machine powers off, or snicctl is interrupted.
/// </summary>
internal static class QemuCommand
{
    public static Command Create()
    {
        var image = new Argument<string>("image") { Description = "a signed image of a board with the qemu-boot capability" };
        var name = new Option<string>("--name") { Description = "card name in the inventory", DefaultValueFactory = _ => "qemu0" };
        var agentPort = new Option<int>("--agent-port") { Description = "loopback port the card's agent is forwarded to", DefaultValueFactory = _ => 19443 };
        var udpPort = new Option<int>("--udp-port") { Description = "first of the loopback UDP ports for the dataplane ports (two per port)", DefaultValueFactory = _ => 40000 };
        var memory = new Option<int>("--memory") { Description = "guest memory in MiB", DefaultValueFactory = _ => 1024 };
        var seconds = new Option<double>("--seconds") { Description = "power the card off after this long (0: run until interrupted)", DefaultValueFactory = _ => 0 };
        var bootTimeout = new Option<double>("--boot-timeout") { Description = "seconds to wait for the agent to answer", DefaultValueFactory = _ => 240 };
        var run = new Command("run", "boot an image in QEMU (software emulation) as a managed card") { image, name, agentPort, udpPort, memory, seconds, bootTimeout };
        run.SetAction(async (parse, cancel) =>
        {
            string stateDir = State.Directory(parse);
            string cardName = parse.GetValue(name)!;
            List<System.Security.Cryptography.ECDsa> trusted;
            try
            {
                trusted = ImageKeys.LoadTrusted(SigningKey.PublicPath(stateDir));
            }
            catch (ImageException e)
            {
                Console.Error.WriteLine($"snicctl qemu run: {e.Message} (images are signed by `snicctl image build`, which makes the key)");
                return ExitCodes.InputError;
            }

            ManagementIdentity identity = ManagementIdentity.LoadOrCreate(stateDir);
            var card = new Card(cardName, new Uri($"https://127.0.0.1:{parse.GetValue(agentPort)}/"), "", "qemu", "standalone", DateTimeOffset.UtcNow);
            using (ManagementStore state = State.Open(parse))
            {
                if (state.FindCard(cardName) is Card existing && existing.Address != card.Address)
                {
                    Console.Error.WriteLine($"snicctl qemu run: the inventory has a card '{cardName}' at {existing.Address}; pick another --name or remove it");
                    return ExitCodes.Rejected;
                }
            }

            QemuMachine machine;
            try
            {
                machine = QemuMachine.Boot(parse.GetValue(image)!, trusted, Path.Combine(stateDir, "qemu", cardName), cardName, identity,
                    parse.GetValue(agentPort), parse.GetValue(udpPort), parse.GetValue(memory));
            }
            catch (ImageException e)
            {
                Console.Error.WriteLine($"snicctl qemu run: {string.Join("; ", e.Errors)}");
                return ExitCodes.Rejected;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
            {
                Console.Error.WriteLine($"snicctl qemu run: {e.Message}");
                return ExitCodes.InputError;
            }

            using (machine)
            {
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
                Console.WriteLine($"booting card '{cardName}' in QEMU (console: {machine.ConsoleLog})");
                var clock = Stopwatch.StartNew();
                bool up;
                try
                {
                    up = await machine.WaitForAgent(card, identity, TimeSpan.FromSeconds(parse.GetValue(bootTimeout)), stop.Token);
                }
                catch (OperationCanceledException)
                {
                    up = false;
                }

                if (!up)
                {
                    Console.Error.WriteLine($"snicctl qemu run: card '{cardName}' did not answer within {clock.Elapsed.TotalSeconds:F0} s" +
                        (machine.HasExited ? $" (QEMU exited with code {machine.ExitCode})" : "") + $"; console tail:\n{Tail(machine.ConsoleLog)}");
                    return ExitCodes.Unreachable;
                }

                using (ManagementStore state = State.Open(parse))
                {
                    if (state.FindCard(cardName) is null)
                    {
                        state.AddCard(card);
                    }
                }

                Console.WriteLine($"card '{cardName}' up after {clock.Elapsed.TotalSeconds:F1} s: agent {card.Address}");
                foreach (QemuPort p in machine.Ports)
                {
                    Console.WriteLine($"  port {p.Name}: send frames as UDP datagrams to 127.0.0.1:{p.ToVm}; the card's frames arrive at 127.0.0.1:{p.FromVm}");
                }

                double limit = parse.GetValue(seconds);
                try
                {
                    Task exited = machine.Process.WaitForExitAsync(stop.Token);
                    await (limit > 0 ? Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(limit), stop.Token)) : exited);
                }
                catch (OperationCanceledException)
                {
                }

                Console.WriteLine(machine.HasExited ? $"card '{cardName}' powered off" : $"card '{cardName}': powering off");
                return ExitCodes.Ok;
            }
        });
        var qemu = new Command("qemu", "run QEMU virtual boards");
        qemu.Subcommands.Add(run);
        return qemu;
    }

    private static string Tail(string file)
    {
        try
        {
            return string.Join('\n', File.ReadLines(file).TakeLast(25));
        }
        catch (IOException)
        {
            return "(no console output)";
        }
    }
}
