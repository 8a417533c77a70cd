using SnicRuntime.Contracts.Agent;
using SnicRuntime.Contracts.Images;
using SnicRuntime.Firmware.Card;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using SnicRuntime.Firmware.Update;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Firmware.Agent;

/// <summary>What the agent needs to take images: the card's slots, the slot running, the keys it trusts, its board.</summary>
public sealed class FirmwareUpdates(SlotStore slots, string runningSlot, IReadOnlyList<ECDsa> trusted, BoardDefinition board)
{
    public SlotStore Slots { get; } = slots;

    public string RunningSlot { get; } = runningSlot;

    public IReadOnlyList<ECDsa> Trusted { get; } = trusted;

    public BoardDefinition Board { get; } = board;

    /// <summary>One upload at a time: a second is refused rather than interleaved into the same slot.</summary>
    internal SemaphoreSlim Busy { get; } = new(1, 1);
}

/// <summary>
/// Firmware updates through the agent: GET /v1/firmware (slots and what the last trial came to),
/// PUT /v1/firmware/image (an image: verified on the card, installed into the inactive slot),
/// POST /v1/firmware/reboot (exit so the boot supervisor starts the new slot on trial).
/// </summary>
public sealed partial class CardAgent
{
    /// <summary>Largest image accepted (the firmware is ~15 MB; a QEMU image also carries its kernel and initramfs).</summary>
    public const long MaxImageBytes = 512L << 20;

    private FirmwareUpdates? _firmware;

    private void MapFirmware(WebApplication app, FirmwareUpdates? firmware)
    {
        _firmware = firmware;
        app.MapGet("/v1/firmware", FirmwareStatus);
        app.MapPut("/v1/firmware/image", FirmwareUpload);
        app.MapPost("/v1/firmware/reboot", FirmwareReboot);
    }

    private Task FirmwareStatus(HttpContext ctx)
    {
        var slots = new List<FirmwareSlotReply>();
        BootState? state = null;
        if (_firmware is FirmwareUpdates f)
        {
            state = f.Slots.State();
            foreach (string slot in new[] { "a", "b" })
            {
                try
                {
                    if (f.Slots.Manifest(slot) is ImageManifest m)
                    {
                        slots.Add(new FirmwareSlotReply(slot, m.Version, m.Board, m.Created));
                    }
                }
                catch (ImageException e)
                {
                    slots.Add(new FirmwareSlotReply(slot, "unreadable: " + e.Message, "", ""));
                }
            }
        }

        string running = FirmwareIdentity.Version;
        try
        {
            running = _firmware?.Slots.Manifest(_firmware.RunningSlot)?.Version ?? running; // the image's version, as flashed
        }
        catch (ImageException)
        {
        }

        return Write(ctx, 200, new FirmwareStatusReply(_firmware?.RunningSlot, running, FirmwareIdentity.ImageSha256, state?.Active,
            state?.Trial, state?.Previous, state?.LastResult, state?.BootCount ?? 0, slots, _firmware?.Trusted.Select(ImageKeys.KeyId).ToList() ?? [],
            FlashRefusal()), AgentJsonContext.Default.FirmwareStatusReply);
    }

    /// <summary>Why this card cannot take an image, or null.</summary>
    private string? FlashRefusal() => _firmware switch
    {
        null => "this card runs without a boot supervisor (start it with `snic-firmware boot --slots DIR`): it has no slots to install into",
        { Trusted.Count: 0 } => "this card trusts no image-signing key (start it with --image-trust FILE)",
        _ => null,
    };

    private async Task FirmwareUpload(HttpContext ctx)
    {
        if (FlashRefusal() is string refused)
        {
            await Problem(ctx, 409, refused).ConfigureAwait(false);
            return;
        }

        FirmwareUpdates f = _firmware!;
        if (!f.Busy.Wait(0))
        {
            await Problem(ctx, 409, "another image upload is in progress").ConfigureAwait(false);
            return;
        }

        try
        {
            if (ctx.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = MaxImageBytes;
            }

            string incoming = f.Slots.IncomingPath;
            try
            {
                await using (var file = new FileStream(incoming, FileMode.Create, FileAccess.Write))
                {
                    await ctx.Request.Body.CopyToAsync(file, ctx.RequestAborted).ConfigureAwait(false);
                }
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                File.Delete(incoming);
                await Problem(ctx, 413, $"image larger than the {MaxImageBytes} bytes this card accepts").ConfigureAwait(false);
                return;
            }

            try
            {
                await using FileStream image = File.OpenRead(incoming);
                VerifiedImage verified = ImageVerifier.Verify(image, f.Trusted, f.Board.Id, f.Board.Cpu.Architecture);
                string slot = f.Slots.Install(image, verified);
                await Write(ctx, 200, new FirmwareInstallReply(slot, verified.Manifest.Version, verified.Manifest.Board), AgentJsonContext.Default.FirmwareInstallReply)
                    .ConfigureAwait(false);
            }
            catch (ImageException e)
            {
                await Write(ctx, 400, new ProblemReply(400, "image refused; the card keeps the firmware it has", [.. e.Errors.Select(r => new ErrorItem("image", r))]),
                    AgentJsonContext.Default.ProblemReply).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                await Problem(ctx, 507, $"cannot write the slot: {e.Message}").ConfigureAwait(false);
            }
            finally
            {
                File.Delete(incoming);
            }
        }
        finally
        {
            f.Busy.Release();
        }
    }

    private async Task FirmwareReboot(HttpContext ctx)
    {
        if (FlashRefusal() is string refused)
        {
            await Problem(ctx, 409, refused).ConfigureAwait(false);
            return;
        }

        BootState state = _firmware!.Slots.State();
        // After the reply has gone out: stop the workers and exit; the supervisor boots the trial slot.
        ctx.Response.OnCompleted(() =>
        {
            FirmwareLifetime.RequestStop(BootSupervisor.RebootExitCode);
            return Task.CompletedTask;
        });
        await Write(ctx, 202, new FirmwareRebootReply(state.Trial ?? state.Active, state.Trial is not null), AgentJsonContext.Default.FirmwareRebootReply)
            .ConfigureAwait(false);
    }
}
