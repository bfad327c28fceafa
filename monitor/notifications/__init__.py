"""Notifications: what an alert says, the channels it goes through, and its delivery.

``message`` renders what an alert event (or a channel test) says, once for every channel;
``channels`` holds one transport per kind of channel behind the ``Transport`` protocol;
``delivery`` writes a ``Notification`` row before anything is sent, claims it once, sends it
through its channel's transport, and keeps the tries and errors.
"""
