#!/bin/sh
# Regenerates sample.mp4, the demo seed's clip: a 5 s portrait (360x640)
# H.264/AAC video of a moving gradient, a few moving shapes and a caption,
# made only from ffmpeg's built-in lavfi sources and the DejaVu font
# (Debian: ffmpeg, fonts-dejavu-core), so the project owns it and may
# redistribute it freely. Run from this directory: sh sample.sh
set -eu
font=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "gradients=s=360x640:r=25:d=5:c0=0x2b1055:c1=0xd53369:c2=0x25c3ee:n=3:speed=0.03:seed=7" \
	-f lavfi -i "aevalsrc=0.18*sin(2*PI*(330+110*mod(floor(2*t)\,3))*t)*exp(-4*mod(t\,0.5)):s=44100:d=5" \
	-filter_complex "[0:v]drawbox=x='180+120*sin(2*PI*t/2.5)-30':y='200+60*cos(2*PI*t/2.5)':w=60:h=60:color=white@0.55:t=fill,\
drawbox=x='180+90*cos(2*PI*t/1.7)-20':y='420+80*sin(2*PI*t/1.7)':w=40:h=40:color=0xfde047@0.7:t=fill,\
drawbox=x='mod(t*140\,400)-40':y=560:w=40:h=12:color=0x25f4ee@0.8:t=fill,\
drawtext=fontfile=$font:text='tiktok-lite':fontsize=44:fontcolor=white:x=(w-tw)/2:y=(h-th)/2-10:shadowcolor=black@0.5:shadowx=2:shadowy=2:alpha='min(1\,t/0.8)',\
drawtext=fontfile=$font:text='your first video is here':fontsize=20:fontcolor=white@0.9:x=(w-tw)/2:y=(h/2)+40:alpha='min(1\,max(0\,(t-0.8)/0.8))'[v]" \
	-map "[v]" -map 1:a \
	-c:v libx264 -preset slow -crf 30 -pix_fmt yuv420p -profile:v main -threads 1 \
	-c:a aac -b:a 48k -ac 1 \
	-movflags +faststart -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
	sample.mp4
