using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using AnomalyActors.Testing;
using MimeKit;
using SmtpServer;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace AnomalyActors.Notifications.Tests;

/// <summary>A real SMTP server (the SmtpServer package) on a free loopback port, keeping every mail it receives.</summary>
internal sealed class SmtpSink : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly SmtpServer.SmtpServer _server;
    private readonly Task _running;

    public SmtpSink()
    {
        Port = FreePort.Next();
        var options = new SmtpServerOptionsBuilder().ServerName("localhost")
            .Endpoint(b => b.Endpoint(new IPEndPoint(IPAddress.Loopback, Port))).Build();
        var services = new SmtpServer.ComponentModel.ServiceProvider();
        services.Add(new Store(Mails));
        _server = new SmtpServer.SmtpServer(options, services);
        _running = _server.StartAsync(_stop.Token);
    }

    public int Port { get; }

    public ConcurrentQueue<MimeMessage> Mails { get; } = new();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _running.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class Store(ConcurrentQueue<MimeMessage> mails) : MessageStore
    {
        public override Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            using var stream = new MemoryStream(buffer.ToArray());
            mails.Enqueue(MimeMessage.Load(stream, cancellationToken));
            return Task.FromResult(SmtpResponse.Ok);
        }
    }
}
